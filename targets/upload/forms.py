from django import forms
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from provinces.models import Province

from .reading import EXTENSIONS, UnreadableFile, file_kind


class UploadForm(forms.Form):
    """A spreadsheet of target-group records for one province.

    The province is chosen only by someone who may write several (EEF/IPSR admins); a coordinator's
    upload is for their province, and the field is left out.
    """

    province = forms.ModelChoiceField(
        label=_("Province"), queryset=Province.objects.none(), empty_label=_("Choose a province")
    )
    file = forms.FileField(
        label=_("Spreadsheet (.xlsx, .xls or .csv)"),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(sorted(EXTENSIONS))}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        provinces = Province.objects.writable_by(user).order_by("name_th")
        self.fields["province"].queryset = provinces
        only = list(provinces[:2])
        self.fixed_province = only[0] if len(only) == 1 else None
        if self.fixed_province is not None:
            del self.fields["province"]

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        if uploaded.size > settings.TARGETS_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                gettext("The file is larger than %(size)d MB.")
                % {"size": settings.TARGETS_UPLOAD_MAX_BYTES // (1024 * 1024)}
            )
        try:
            file_kind(uploaded.name)
        except UnreadableFile as exc:
            raise forms.ValidationError(str(exc)) from exc
        return uploaded

    def chosen_province(self) -> Province:
        """The province of the upload (after is_valid())."""
        return self.fixed_province or self.cleaned_data["province"]
