"""Transfers between provinces in the API (api/views/transfers.py): what one request says to its caller.

The body depends on the side (transfers/policies.py): the requesting side reads only what it sent (the
identifier, its note), the state, the holder's reason once answered, and the record's id once the record
is in its province; the holding side reads the record's id while it holds it and the requesting province
while the request is open; EEF/IPSR read both provinces.
"""

from rest_framework import serializers

from transfers.models import TransferState

from .serializers_cases import PageSerializerBase, version_field


class TransferSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    side = serializers.ChoiceField(choices=["requester", "holder", "national"])
    state = serializers.ChoiceField(choices=TransferState.choices)
    forced = serializers.BooleanField(help_text="Moved directly by EEF/IPSR")
    identifier = serializers.CharField(help_text="As the requester sent it; masked unless the caller may read it")
    note = serializers.CharField(allow_blank=True)
    requested_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)
    answer_reason = serializers.CharField(allow_blank=True, help_text="The holder's reason (always, when declined)")
    record = serializers.IntegerField(allow_null=True, help_text="The record's id where the caller reads it now")
    from_province = serializers.IntegerField(
        allow_null=True, help_text="The holding province: EEF/IPSR's keys and users only"
    )
    to_province = serializers.IntegerField(
        allow_null=True, help_text="The requesting province: its side, the holder while open, EEF/IPSR"
    )
    version = serializers.IntegerField()


class TransferPageSerializer(PageSerializerBase):
    results = TransferSerializer(many=True)


class TransferRequestSerializer(serializers.Serializer):
    identifier = serializers.CharField(max_length=30, help_text="The national ID or G-code refused as held elsewhere")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    province = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="Where it should move: needed for a key of several"
    )


class TransferAnswerSerializer(serializers.Serializer):
    version = version_field("transfer")
    reason = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required to decline; shown to the requester",
    )
