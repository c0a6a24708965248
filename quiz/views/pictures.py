"""Question pictures (看图题), served by signed, content-addressed URLs (quiz/services/pictures.py)."""
from __future__ import annotations

import re

from flask import Blueprint, Response, abort, request

from quiz.services import pictures

bp = Blueprint("pictures", __name__)

_HASH = re.compile(r"^[0-9a-f]{64}$")
_SIG = re.compile(r"^[0-9a-f]{32}$")
YEAR = 365 * 24 * 3600


@bp.app_template_global()
def picture_src(question) -> str | None:
    """Where an <img> of a question's picture loads from: the signed URL of a stored question's
    picture, or for a row of an import preview (not stored yet) a small data: thumbnail."""
    picture = getattr(question, "picture", None)
    if isinstance(picture, pictures.CheckedPicture):
        return pictures.thumbnail_uri(picture)
    return pictures.picture_url(picture)


@bp.route("/pictures/<sig>/<sha256>")
def show(sig: str, sha256: str):
    """The picture's bytes, cached for a year (its URL names its content). An unsigned, forged or
    unknown URL is a 404, the same for all three, so nothing can be probed."""
    if not _HASH.match(sha256) or not _SIG.match(sig) or not pictures.signature_matches(sha256, sig):
        abort(404)
    etag = f'"{sha256}"'
    headers = {"Cache-Control": f"public, max-age={YEAR}, immutable", "ETag": etag}
    if sha256 in request.headers.get("If-None-Match", ""):  # the content of a hash never changes
        return Response(status=304, headers=headers)
    item = pictures.load(sha256)
    if item is None:
        abort(404)
    content_type, data = item
    return Response(data, content_type=content_type, headers=headers)
