"""Thumbnails for the review page: small WebP/JPEG copies of every image a SKU shows.

``thumbs/<sku-key>/<name>-<digest>.<ext>``, where ``digest`` is a hash of the image's bytes and
the thumbnail settings: a thumbnail is made once per image content, a resumed or rerun run
whose images did not change makes none, and a changed image gets a new name (so a browser
never shows a stale cached one). ``thumbs/<sku-key>/index.json`` holds the settings and maps
each image (run-relative path) to its thumbnail.
"""
from __future__ import annotations

import hashlib
import io
import posixpath

from PIL import Image

from catloc import storage
from catloc.config import ReviewOptions
from catloc.records import SkuRecord
from catloc.runfolder import RunFolder

EXTENSIONS = {"webp": "webp", "jpg": "jpg"}
PIL_FORMATS = {"webp": "WEBP", "jpg": "JPEG"}


def thumbnail_bytes(data: bytes, options: ReviewOptions) -> bytes:
    """``data`` (an encoded image) as a thumbnail whose longer side is at most ``options.thumb_side`` px."""
    with Image.open(io.BytesIO(data)) as im:
        im = im.convert("RGB")
        im.thumbnail((options.thumb_side, options.thumb_side), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        extra = {"method": 4} if options.thumb_format == "webp" else {"optimize": True, "progressive": True}
        im.save(buf, format=PIL_FORMATS[options.thumb_format], quality=options.thumb_quality, **extra)
    return buf.getvalue()


def settings(options: ReviewOptions) -> str:
    return f"{options.thumb_side}/{options.thumb_format}/{options.thumb_quality}"


def thumb_name(image_rel: str, data: bytes, options: ReviewOptions) -> str:
    """``<image stem>-<digest>.<ext>``: the digest follows the image's bytes and the settings."""
    digest = hashlib.sha256(data)
    digest.update(settings(options).encode())
    stem = posixpath.splitext(posixpath.basename(image_rel))[0]
    return f"{stem}-{digest.hexdigest()[:10]}.{EXTENSIONS[options.thumb_format]}"


def record_images(record: SkuRecord, folder: RunFolder) -> list[str]:
    """Every image of ``record`` the page shows, relative to the run folder."""
    uris = [record.source_image, record.cleaned_image] + [c.image for c in record.candidates]
    return [folder.relative(u) for u in uris if u]


def ensure_thumbs(folder: RunFolder, record: SkuRecord, options: ReviewOptions, recheck: bool) -> dict[str, str]:
    """Make the thumbnails ``record``'s images lack and return ``{image: thumbnail}`` (run-relative).

    ``recheck``: hash every image again (its SKU was just processed: an image may have changed);
    otherwise an image whose thumbnail the index names (with these settings) and the folder
    holds is trusted. Thumbnails no image uses any more are removed; an image that cannot be
    read gets none.
    """
    stored_index = folder.read_thumb_index(record.sku)
    old = stored_index.get("images", {}) if stored_index.get("settings") == settings(options) else {}
    stored = {folder.relative(u) for u in folder.thumb_files(record.sku)}
    index = {}
    for image in record_images(record, folder):
        if not recheck and old.get(image) in stored:
            index[image] = old[image]
            continue
        try:
            data = storage.read_bytes(folder.file(image))
            thumb = folder.thumb(record.sku, thumb_name(image, data, options))
            if folder.relative(thumb) not in stored:
                storage.write_bytes(thumb, thumbnail_bytes(data, options))
        except (OSError, ValueError):  # a missing or unreadable image: the page shows its name instead
            continue
        index[image] = folder.relative(thumb)
    if index != old:
        folder.write_thumb_index(record.sku, {"settings": settings(options), "images": index})
    for stale in stored - set(index.values()):
        storage.remove(folder.file(stale))
    return index
