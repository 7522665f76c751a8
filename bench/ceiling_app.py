"""The framework ceiling: a bare Flask app answering a constant JSON, served
by the same gunicorn settings as the service (``gunicorn bench.ceiling_app:app``)."""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/ceiling")
def ceiling():
    return jsonify({"data": {"ok": True}})
