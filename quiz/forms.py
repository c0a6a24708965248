"""WTForms for every state-changing page (all CSRF-protected through Flask-WTF)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, HiddenField, IntegerField, PasswordField, SelectField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class EmptyForm(FlaskForm):
    """For button-only actions (retire, delete, confirm): CSRF token only."""


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Remember me"))


class UploadForm(FlaskForm):
    file = FileField(_l("File (CSV or XLSX)"), validators=[FileRequired()])


class BankUploadForm(UploadForm):
    file = FileField(_l("File (CSV or XLSX, or a ZIP with the pictures)"), validators=[FileRequired()])
    bank = StringField(_l("Bank name"), validators=[DataRequired(), Length(max=200)])
    unit = SelectField(_l("Owner unit"), choices=[], validate_choice=False)


class ConfirmImportForm(FlaskForm):
    upload_id = HiddenField(validators=[DataRequired()])
    bank = HiddenField(validators=[DataRequired()])
    unit = HiddenField()
    skip_invalid = BooleanField(_l("Skip invalid rows and import the rest"))


class UnitForm(FlaskForm):
    name = StringField(_l("Unit name"), validators=[DataRequired(), Length(max=100)])
    headcount = IntegerField(_l("Headcount"), default=0,
                             validators=[Optional(), NumberRange(min=0, max=10_000_000)])


class NewUnitForm(UnitForm):
    parent = SelectField(_l("Parent unit"), choices=[], validate_choice=False)


class ParticipantForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=100)])
    phone = StringField(_l("Mobile phone"), validators=[DataRequired(), Length(max=30)])
    unit = SelectField(_l("Unit"), choices=[], validate_choice=False)


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    display_name = StringField(_l("Display name"), validators=[Optional(), Length(max=100)])
    role = SelectField(_l("Role"), choices=[])
    unit = SelectField(_l("Unit"), choices=[], validate_choice=False)
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=8, max=200)])


class QuestionForm(FlaskForm):
    stem = TextAreaField(_l("Stem"), validators=[DataRequired()])
    option_a = StringField("A")
    option_b = StringField("B")
    option_c = StringField("C")
    option_d = StringField("D")
    option_e = StringField("E")
    option_f = StringField("F")
    option_g = StringField("G")
    option_h = StringField("H")
    answer = StringField(_l("Answer"), validators=[DataRequired()])
    explanation = TextAreaField(_l("Explanation"))
    points = StringField(_l("Points"))
    difficulty = StringField(_l("Difficulty"))
    tags = StringField(_l("Tags (separated by ;)"))
    picture = FileField(_l("Picture (PNG, JPEG, WebP or GIF)"))
    remove_picture = BooleanField(_l("Remove the picture"))

    OPTION_FIELDS = ("option_a", "option_b", "option_c", "option_d", "option_e", "option_f",
                     "option_g", "option_h")

    def options(self) -> list[str]:
        return [getattr(self, name).data or "" for name in self.OPTION_FIELDS]


class LanguageForm(FlaskForm):
    lang = HiddenField(validators=[DataRequired()])
    next = HiddenField()
