"""The copyright page's takedown form."""

from __future__ import annotations

from django import forms

from core.legal.models import TakedownNotice


class TakedownForm(forms.ModelForm):
    """What a notice needs: the work, where it is, who sends it, and the good-faith statement."""

    good_faith = forms.BooleanField(
        required=True,
        label=(
            "I state in good faith that this use of the work is not authorized by the copyright "
            "owner, its agent or the law, and that the information in this notice is accurate."
        ),
        error_messages={"required": "A notice needs this statement."},
    )

    class Meta:
        model = TakedownNotice
        fields = ["work", "location", "name", "email", "good_faith"]
        labels = {
            "work": "The copyrighted work",
            "location": "Address of the job page, song page or video",
            "name": "Your name",
            "email": "Your e-mail address",
        }
        help_texts = {
            "work": "Its title and artist, and whose rights you hold or represent.",
            "location": "E.g. the address of a job page on this site, or a YouTube video.",
        }
        widgets = {"work": forms.Textarea(attrs={"rows": 3})}
