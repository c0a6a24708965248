"""The baseline of bench/bench_boards.py: a bare Flask hello-world (no extensions, no database),
served by its own gunicorn with the same worker settings as the app, so every endpoint's
throughput can be put beside what Flask and gunicorn alone manage on the same machine in the
same run.

    gunicorn -w 2 -k gthread --threads 8 --chdir bench hello_app:app
"""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, World!"
