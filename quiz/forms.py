"""WTForms for every state-changing page (all CSRF-protected through Flask-WTF)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, FieldList, FloatField, FormField, HiddenField, IntegerField, PasswordField,
                     RadioField, SelectField, SelectMultipleField, StringField, TextAreaField)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget


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


# ---------------------------------------------------------------- live stage contests (set-up page)
class NumberBetween(NumberRange):
    """NumberRange that stays quiet when the text was no number (the field's own error says so)."""

    def __call__(self, form, field):
        if field.data is not None:
            super().__call__(form, field)


class Number(FloatField):
    """A number shown as people write it (100, not 100.0)."""

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else f"{self.data:g}"


class _Row(FlaskForm):
    """A row inside the set-up form (FormField): the form's CSRF token covers it; messages translated."""

    class Meta:
        csrf = False


class LiveEntrantForm(_Row):
    """One entrant row of the set-up page: a team (usually a unit) or a registered player."""

    id = HiddenField()
    unit = SelectField(_l("Unit"), choices=[], validate_choice=False)
    name = StringField(_l("Display name"), validators=[Optional(), Length(max=100)])
    base_score = Number(_l("Base score"), validators=[Optional(), NumberBetween(min=-100_000, max=100_000)])
    members = TextAreaField(_l("Members (name and mobile phone, one per line)"), validators=[Optional(),
                                                                                             Length(max=20_000)])


# Round settings (quiz/rounds DEFAULTS) as the set-up page names them; a setting of a new round
# type without a label here is shown under its own name.
LIVE_SETTING_LABELS = {
    "points": _l("Points for a right answer"),
    "time_seconds": _l("Time to answer (seconds)"),
    "deduct": _l("Points lost for a wrong answer"),
    "early_penalty": _l("Penalty for buzzing before the start"),
    "early_lockout": _l("An early buzz loses the right to buzz on that question"),
    "reopen": _l("After a wrong answer the question re-opens to the others"),
    "values": _l("Stakes to choose from (e.g. 10, 20, 30)"),
    "speed": _l("Speed scoring: faster right answers earn more (points × (1 − t/T ÷ 2))"),
    "streak_bonus": _l("Bonus per question in a row answered right (0 = none)"),
    "answer_by": _l("Who answers"),
}
LIVE_SETTING_CHOICES = {
    "answer_by": [("stage", _l("Each team in turn, on stage (the host judges)")),
                  ("phones", _l("Everyone at once, on phones"))],
}


def _setting_field(name: str, default):
    """A form field for one round setting, by the type of its default."""
    label = LIVE_SETTING_LABELS.get(name, name)
    if isinstance(default, bool):
        return BooleanField(label, default=default)
    if name in LIVE_SETTING_CHOICES:
        return SelectField(label, choices=LIVE_SETTING_CHOICES[name], default=default)
    if isinstance(default, list):
        return StringField(label, default=", ".join(f"{v:g}" for v in default),
                           validators=[Optional(), Length(max=200)])
    if isinstance(default, str):
        return StringField(label, default=default, validators=[Optional(), Length(max=100)])
    if isinstance(default, int):
        top = 3600 if name.endswith("seconds") else 10_000
        return IntegerField(label, default=default, validators=[Optional(), NumberBetween(min=0, max=top)])
    return Number(label, default=default, validators=[Optional(), NumberBetween(min=0, max=10_000)])


class LiveRoundForm(_Row):
    """One round row of the set-up page: type, title, the type's settings (fields s_<type>_<name>,
    made from the round registry below) and its questions, drawn by count per question type or
    picked by id in order."""

    type = SelectField(_l("Round type"), choices=[], validate_choice=False)
    title = StringField(_l("Round title"), validators=[Optional(), Length(max=200)])
    source = RadioField(_l("Questions"), choices=[("draw", _l("Draw from the banks")),
                                                  ("pick", _l("Pick by id, in order"))], default="draw")
    tags = StringField(_l("Only questions with these tags (separated by ;)"), validators=[Optional(), Length(max=500)])
    questions = TextAreaField(_l("Question ids in order (id or id:points, separated by spaces, commas or lines)"),
                              validators=[Optional(), Length(max=20_000)])
    entrants = StringField(_l("Who plays (names separated by ;; empty: the highest tied entrants)"),
                           validators=[Optional(), Length(max=2000)])

    @classmethod
    def setting_names(cls, key: str) -> list[str]:
        from quiz.rounds import get_round_type

        return list(get_round_type(key).DEFAULTS)


def _live_round_fields() -> None:
    from quiz.questions import QUESTION_TYPES
    from quiz.rounds import ROUND_TYPES

    for qtype in QUESTION_TYPES:
        setattr(LiveRoundForm, f"draw_{qtype}", IntegerField(QUESTION_TYPES[qtype].label,
                                                             validators=[Optional(), NumberBetween(min=0, max=200)]))
    for key, kind in ROUND_TYPES.items():
        for name, default in kind.DEFAULTS.items():
            setattr(LiveRoundForm, f"s_{key}_{name}", _setting_field(name, default))


_live_round_fields()


class LiveContestForm(FlaskForm):
    """The set-up page of a live contest (new, or edited while it has not started)."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    mode = RadioField(_l("Who plays"), choices=[("teams", _l("Teams (usually units)")),
                                                ("individuals", _l("Individuals"))], default="teams")
    unit = SelectField(_l("Organiser unit"), choices=[], validate_choice=False)
    banks = SelectMultipleField(_l("Question banks"), choices=[], widget=ListWidget(prefix_label=False),
                                option_widget=CheckboxInput(),
                                validators=[DataRequired(message=_l("Choose at least one question bank."))])
    base_score = Number(_l("Base score of each team (unless its row gives one)"), default=100,
                            validators=[Optional(), NumberBetween(min=-100_000, max=100_000)])
    entrants = FieldList(FormField(LiveEntrantForm), min_entries=4, max_entries=500)
    pasted = TextAreaField(_l("Or paste a list"), validators=[Optional(), Length(max=200_000)])
    rounds = FieldList(FormField(LiveRoundForm), min_entries=4, max_entries=30)
