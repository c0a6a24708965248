"""Blueprints, one per feature; registered by create_app."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from quiz.views import api, auth, banks, boards, live, main, people, pictures, play, quizzes, reports, units

    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(units.bp, url_prefix="/units")
    app.register_blueprint(people.bp, url_prefix="/people")
    app.register_blueprint(banks.bp, url_prefix="/banks")
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(play.bp)
    app.register_blueprint(boards.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(quizzes.bp, url_prefix="/quizzes")
    app.register_blueprint(live.bp)
    app.register_blueprint(pictures.bp)
