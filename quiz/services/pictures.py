"""Pictures (看图题): a bank question may show one image. This module owns the rules for them:

- what is accepted: PNG, JPEG, WebP or GIF, recognised from the bytes (never the file name),
  decoded once with Pillow to prove it is an image, at most PICTURE_MAX_BYTES as uploaded and
  PICTURE_MAX_PIXELS (width × height, read from the header before anything is decoded); a still
  image wider or taller than PICTURE_MAX_SIDE is scaled down and re-encoded (a phone photo of
  4 MB becomes a few hundred KB; its EXIF rotation is applied and its metadata dropped); a smaller
  one that carries EXIF or XMP metadata (a photo's GPS position, camera and time) is re-encoded
  without it (a JPEG keeps its quantisation tables), any other is stored as uploaded;
- where it lives: in the database (models.banks.Picture), keyed by the SHA-256 of the stored
  bytes, so every app server sees it, identical files are stored once, and a URL never changes
  its content;
- who may fetch it: the URL carries the hash and an HMAC of it under SECRET_KEY
  (`/pictures/<sig>/<sha256>`), so only someone who was shown the URL (a sheet, a live screen
  after the question opened, a bank page) can fetch it; an unsigned or forged URL is a 404;
- serving: immutable, cached for a year by browsers; each process keeps a small cache of the
  bytes it served (content addressed, so never stale) for the moment a hall of phones opens the
  same picture at once.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import threading
import warnings
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

from flask import current_app, has_request_context, url_for
from flask_babel import gettext as _
from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError

from quiz.extensions import db
from quiz.models import Picture, Question

# Pillow format → (content type, file extension used in exported ZIPs)
FORMATS = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg"), "WEBP": ("image/webp", "webp"),
           "GIF": ("image/gif", "gif")}
EXTENSIONS = {content_type: ext for content_type, ext in FORMATS.values()}
# The first bytes of each accepted format: a cheap refusal of anything else before Pillow sees it.
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"))
THUMBNAIL_SIDE = 160


class PictureProblem(ValueError):
    """A file that is not an acceptable picture; the message says why (translated)."""


@dataclass(frozen=True)
class CheckedPicture:
    """A picture ready to store: the bytes to keep (possibly scaled down) and what they are."""

    sha256: str
    content_type: str
    width: int
    height: int
    data: bytes

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.content_type]


def _limits() -> tuple[int, int, int]:
    config = current_app.config
    return int(config["PICTURE_MAX_BYTES"]), int(config["PICTURE_MAX_PIXELS"]), int(config["PICTURE_MAX_SIDE"] or 0)


def megabytes(size: int) -> str:
    """A size in MB as a message shows it: 8, 2.5."""
    return f"{size / 2**20:.1f}".rstrip("0").rstrip(".")


def sniff(data: bytes) -> str | None:
    """The accepted format the bytes start like (PNG, JPEG, GIF, WEBP), or None."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def check_picture(data: bytes) -> CheckedPicture:
    """The picture to store for these uploaded bytes, or PictureProblem saying why not.

    The type comes from the content (magic bytes, then Pillow must decode the same format); the
    size limits are checked before decoding. Still images over PICTURE_MAX_SIDE are scaled down."""
    max_bytes, max_pixels, max_side = _limits()
    if not data:
        raise PictureProblem(_("the picture file is empty"))
    if len(data) > max_bytes:
        raise PictureProblem(_("the picture is %(size)s MB, more than the limit of %(limit)s MB",
                               size=megabytes(len(data)), limit=megabytes(max_bytes)))
    expected = sniff(data)
    if expected is None:
        raise PictureProblem(_("the file is not a PNG, JPEG, WebP or GIF picture"))
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                image = Image.open(io.BytesIO(data), formats=[expected])
            except Image.DecompressionBombError:  # Pillow's own ceiling (over 178 million pixels)
                raise PictureProblem(_("the picture has more than %(limit)s million pixels",
                                       limit=f"{max_pixels / 1e6:g}"))
        width, height = image.size
        if image.format != expected:
            raise PictureProblem(_("the file is not a PNG, JPEG, WebP or GIF picture"))
        if width < 1 or height < 1 or width * height > max_pixels:
            raise PictureProblem(_("the picture is %(width)d×%(height)d pixels, more than the limit of "
                                   "%(limit)s million pixels", width=width, height=height,
                                   limit=f"{max_pixels / 1e6:g}"))
        animated = bool(getattr(image, "is_animated", False))
        scale = max_side and max(width, height) > max_side and not animated and expected != "GIF"
        if scale:
            image.draft(image.mode if image.mode in ("RGB", "L") else "RGB", (max_side, max_side))  # JPEG: decode small
        with _strict_decoding():
            image.load()  # decode (the first frame): a damaged or truncated file fails here
        if not scale and (animated or expected == "GIF" or not _has_metadata(image)):
            return CheckedPicture(hashlib.sha256(data).hexdigest(), FORMATS[expected][0], width, height, data)
        # re-encoded: scaled down, or small enough but carrying metadata (a phone photo's GPS
        # position, camera, time), which the new file does not keep
        if not scale and expected == "JPEG" and image.getexif().get(0x0112, 1) == 1:
            buffer = io.BytesIO()  # upright already: its own quantisation tables (no visible loss)
            image.save(buffer, "JPEG", quality="keep", optimize=True)
            out = buffer.getvalue()
        else:
            image = ImageOps.exif_transpose(image)  # upright, as it is shown
            if image.mode not in ("RGB", "RGBA", "L", "LA"):  # palette, CMYK, 16-bit: resample in RGBA
                image = image.convert("RGBA")
            if scale:
                image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            out = _encode(image, expected)
    except PictureProblem:
        raise
    except Exception:  # Pillow raises assorted errors (OSError, SyntaxError, ValueError …) on bad data
        raise PictureProblem(_("the picture file is damaged or not a PNG, JPEG, WebP or GIF picture"))
    if len(out) > max_bytes:
        raise PictureProblem(_("the picture is %(size)s MB, more than the limit of %(limit)s MB",
                               size=megabytes(len(out)), limit=megabytes(max_bytes)))
    return CheckedPicture(hashlib.sha256(out).hexdigest(), FORMATS[expected][0], image.width, image.height, out)


def _has_metadata(image) -> bool:
    """EXIF or XMP in the file (PNG text chunks are not personal data and are left alone)."""
    info = image.info
    return bool(info.get("exif") or info.get("xmp") or info.get("XML:com.adobe.xmp") or len(image.getexif()))


_strict_lock = threading.Lock()


@contextmanager
def _strict_decoding():
    """Decode with Pillow's truncated-image tolerance off. WeasyPrint (posters) switches it on for
    the whole process when imported (PIL.ImageFile.LOAD_TRUNCATED_IMAGES = True), which would let a
    cut-off upload through as a picture with a grey bottom. The flag is process-wide: the lock keeps
    concurrent checks from restoring each other's value; a poster rendered meanwhile only ever reads
    images this app made itself (its icons and QR codes)."""
    from PIL import ImageFile

    with _strict_lock:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _encode(image, fmt: str) -> bytes:
    """A scaled-down still image in its own format (no metadata kept)."""
    buffer = io.BytesIO()
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(buffer, "JPEG", quality=85, optimize=True, progressive=True)
    elif fmt == "WEBP":
        image.save(buffer, "WEBP", quality=85, method=4)
    else:
        image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


_thumbnails: OrderedDict[str, str] = OrderedDict()  # sha256 → data: URI, the last few hundred made
_thumbnails_lock = threading.Lock()


def thumbnail_uri(picture: CheckedPicture) -> str:
    """A small data: URI of a picture not stored yet (the import preview shows it; CSP allows data:).
    A picture named by many rows is scaled once."""
    with _thumbnails_lock:
        uri = _thumbnails.get(picture.sha256)
    if uri is None:
        uri = _thumbnail(picture)
        with _thumbnails_lock:
            _thumbnails[picture.sha256] = uri
            while len(_thumbnails) > 300:
                _thumbnails.popitem(last=False)
    return uri


def _thumbnail(picture: CheckedPicture, side: int = THUMBNAIL_SIDE) -> str:
    from PIL import Image

    with Image.open(io.BytesIO(picture.data)) as image:
        image.draft("RGB", (side, side))
        image.thumbnail((side, side))
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGBA")
        buffer = io.BytesIO()
        if image.mode == "RGBA":
            image.save(buffer, "PNG")
        else:
            image.save(buffer, "JPEG", quality=70)
    kind = "png" if image.mode == "RGBA" else "jpeg"
    return f"data:image/{kind};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# ---------------------------------------------------------------- storage

def store(picture: CheckedPicture) -> str:
    """Keep the picture (once per content) and return its hash, for question.picture. The caller
    commits. On PostgreSQL the row is locked against a concurrent release() until then."""
    query = select(Picture.sha256).where(Picture.sha256 == picture.sha256).with_for_update(key_share=True)
    if db.session.execute(query).scalar() is not None:
        return picture.sha256
    try:
        with db.session.begin_nested():
            db.session.add(Picture(sha256=picture.sha256, content_type=picture.content_type, width=picture.width,
                                   height=picture.height, size=len(picture.data), data=picture.data))
    except IntegrityError:  # stored by a concurrent request meanwhile: the same bytes
        if db.session.execute(query).scalar() is None:
            raise
    return picture.sha256


def release(sha256: str | None) -> None:
    """Delete the picture when no question shows it any more (after a question's picture was
    replaced or removed). A question referring to it concurrently keeps it (the foreign key
    refuses the delete, which is then skipped). The caller commits."""
    if not sha256:
        return
    db.session.flush()
    try:
        with db.session.begin_nested():
            db.session.execute(delete(Picture).where(
                Picture.sha256 == sha256, ~exists().where(Question.picture == sha256)))
    except IntegrityError:
        pass


def stored(sha256: str) -> Picture | None:
    """The picture row (its data deferred), or None."""
    return db.session.get(Picture, sha256)


# ---------------------------------------------------------------- URLs

def signature(sha256: str) -> str:
    """The HMAC that makes a picture URL valid (32 hex digits, under SECRET_KEY)."""
    key = current_app.config["SECRET_KEY"]
    key = key.encode("utf-8") if isinstance(key, str) else key
    return hmac.new(key, b"picture:" + sha256.encode("ascii"), hashlib.sha256).hexdigest()[:32]


def signature_matches(sha256: str, sig: str) -> bool:
    return len(sha256) == 64 and hmac.compare_digest(signature(sha256), sig or "")


def picture_url(sha256: str | None) -> str | None:
    """The signed URL (a path on this site) of a stored picture; None for no picture. Works outside
    a request too (the live push stream builds its states there)."""
    if not sha256:
        return None
    values = {"sig": signature(sha256), "sha256": sha256}
    if has_request_context():
        return url_for("pictures.show", **values)
    from urllib.parse import urlsplit

    base = current_app.config.get("PUBLIC_BASE_URL") or ""
    root = urlsplit(base).path.rstrip("/") if base else (current_app.config.get("APPLICATION_ROOT") or "/").rstrip("/")
    return current_app.url_map.bind("localhost", script_name=root or "/").build("pictures.show", values)


# ---------------------------------------------------------------- serving

class _ByteCache:
    """A per-process LRU of served pictures, bounded in bytes. Pictures are immutable (a hash names
    their content), so a cached copy is never stale and no process needs to hear of changes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self.size = 0

    def get(self, key: str) -> tuple[str, bytes] | None:
        with self.lock:
            item = self.items.get(key)
            if item is not None:
                self.items.move_to_end(key)
            return item

    def put(self, key: str, item: tuple[str, bytes], limit: int) -> None:
        if len(item[1]) > limit // 4:
            return
        with self.lock:
            if key in self.items:
                return
            self.items[key] = item
            self.size += len(item[1])
            while self.size > limit and self.items:
                _key, (_type, data) = self.items.popitem(last=False)
                self.size -= len(data)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.size = 0


_cache = _ByteCache()


def load(sha256: str) -> tuple[str, bytes] | None:
    """(content type, bytes) of a stored picture, or None."""
    item = _cache.get(sha256)
    if item is not None:
        return item
    row = db.session.execute(select(Picture.content_type, Picture.data).where(Picture.sha256 == sha256)).first()
    if row is None:
        return None
    item = (row.content_type, bytes(row.data))
    _cache.put(sha256, item, int(current_app.config["PICTURE_CACHE_BYTES"]))
    return item


def clear_cache() -> None:
    """Forget the cached bytes (tests empty the tables between runs)."""
    _cache.clear()
