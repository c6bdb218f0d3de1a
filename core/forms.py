"""What the apps' forms share: a service's refusal shown on the form that asked for it."""

from django.core.exceptions import ValidationError
from django.forms import BaseForm


def add_service_errors(form: BaseForm, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: on its field where the form has one, else on the form.

    Services (keyword-only, called by pages and the API alike) name the model's fields; a page's form
    may lack some of them, and an error about a field it does not show belongs at the top.
    """
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)
