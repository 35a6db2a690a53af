"""The photos of the demo's home visits: a few small generated images, written once.

A real visit keeps its own photos (``Attachment.upload``, under ``files/<file>/``); the demo
has tens of thousands of visits, so its attachments all point to the same handful of
pictures in the media storage (``demo/visit-*.jpg``), drawn here with Pillow. They are
plain drawings marked "DEMO", deterministic, about 10 KB each, and the attachment view
serves them like any upload (inside the user's scope).
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage

# Share of home visits with photos; the rest are the incomplete records of the demo.
PHOTO_SHARE = 0.95
SIZE = (480, 360)

Draw = Callable[[Any], None]


def _house(draw: Any) -> None:
    draw.rectangle((0, 0, 480, 220), fill=(186, 214, 235))
    draw.rectangle((0, 220, 480, 360), fill=(150, 160, 140))
    draw.rectangle((120, 120, 360, 300), fill=(214, 200, 176), outline=(90, 80, 70), width=3)
    draw.polygon([(100, 125), (240, 50), (380, 125)], fill=(140, 60, 50))
    draw.rectangle((215, 210, 265, 300), fill=(110, 80, 60))
    for left in (145, 290):
        draw.rectangle((left, 160, left + 45, 200), fill=(230, 240, 250), outline=(90, 80, 70))


def _room(draw: Any) -> None:
    draw.rectangle((0, 0, 480, 250), fill=(228, 222, 206))
    draw.rectangle((0, 250, 480, 360), fill=(170, 140, 110))
    draw.rectangle((40, 190, 230, 290), fill=(200, 190, 170), outline=(100, 90, 80), width=2)
    draw.rectangle((40, 170, 80, 200), fill=(240, 240, 240))
    draw.rectangle((300, 210, 430, 230), fill=(130, 95, 60))
    for leg in (310, 410):
        draw.rectangle((leg, 230, leg + 10, 300), fill=(120, 85, 55))
    draw.rectangle((330, 60, 420, 140), fill=(200, 225, 240), outline=(120, 110, 100), width=3)


def _kitchen(draw: Any) -> None:
    draw.rectangle((0, 0, 480, 360), fill=(210, 214, 206))
    draw.rectangle((30, 200, 450, 360), fill=(160, 150, 140))
    draw.ellipse((90, 150, 210, 210), fill=(60, 60, 60))
    draw.rectangle((280, 120, 330, 200), fill=(220, 120, 60))
    draw.rectangle((350, 140, 400, 200), fill=(240, 230, 200))
    draw.rectangle((40, 40, 200, 110), fill=(180, 160, 130), outline=(110, 100, 90), width=2)


def _documents(draw: Any) -> None:
    draw.rectangle((0, 0, 480, 360), fill=(120, 100, 80))
    for offset, tint in ((0, 250), (24, 244), (48, 238)):
        box = (80 + offset, 40 + offset // 2, 330 + offset, 330)
        draw.rectangle(box, fill=(tint, tint, tint - 6), outline=(160, 160, 160))
    for row in range(8):
        top = 90 + row * 26
        draw.line((150, top, 350 - (row % 3) * 30, top), fill=(90, 90, 90), width=3)
    draw.ellipse((300, 250, 360, 310), outline=(200, 30, 30), width=4)


def _medical(draw: Any) -> None:
    draw.rectangle((0, 0, 480, 360), fill=(236, 236, 230))
    for index in range(4):
        left, top = 40 + index * 100, 60 + (index % 2) * 40
        draw.rectangle(
            (left, top, left + 90, top + 190), fill=(255, 255, 250), outline=(150, 150, 150)
        )
        draw.rectangle((left + 10, top + 12, left + 80, top + 28), fill=(40, 120, 200))
        for row in range(5):
            draw.line(
                (left + 10, top + 50 + row * 22, left + 78, top + 50 + row * 22),
                fill=(120, 120, 120),
                width=2,
            )
    draw.rectangle((190, 300, 290, 330), fill=(200, 40, 40))


def _talk(draw: Any) -> None:
    draw.rectangle((0, 0, 480, 360), fill=(222, 230, 222))
    draw.rectangle((100, 230, 380, 250), fill=(140, 100, 70))
    for center, colour in ((150, (60, 80, 140)), (330, (150, 70, 60)), (240, (70, 120, 80))):
        draw.ellipse((center - 28, 110, center + 28, 166), fill=(235, 200, 170))
        draw.rectangle((center - 40, 170, center + 40, 240), fill=colour)


# (name in the media storage, caption, drawing), in the order visits pick them.
PHOTOS: tuple[tuple[str, str, Draw], ...] = (
    ("demo/visit-house.jpg", "入户走访：住房外景", _house),
    ("demo/visit-room.jpg", "入户走访：家庭居住情况", _room),
    ("demo/visit-kitchen.jpg", "入户走访：厨房及生活用品", _kitchen),
    ("demo/visit-documents.jpg", "申请材料及收入证明", _documents),
    ("demo/visit-medical.jpg", "医疗费用票据", _medical),
    ("demo/visit-talk.jpg", "工作人员与申请人座谈", _talk),
)
NAMES = tuple(name for name, _caption, _draw in PHOTOS)


def pick(rng: random.Random) -> list[tuple[str, str]]:
    """One or two photos of a visit: (name, caption)."""
    count = 1 if rng.random() < 0.45 else 2
    return [(name, caption) for name, caption, _draw in rng.sample(PHOTOS, count)]


def image(draw_scene: Draw) -> bytes:
    """A JPEG of the scene, marked as a demo picture."""
    from PIL import Image, ImageDraw  # Pillow comes with reportlab (the PDF reports)

    picture = Image.new("RGB", SIZE, (255, 255, 255))
    draw = ImageDraw.Draw(picture)
    draw_scene(draw)
    draw.rectangle((8, 8, 64, 26), fill=(255, 255, 255))
    draw.text((14, 11), "DEMO", fill=(200, 30, 30))
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=80, optimize=True)
    return out.getvalue()


def ensure_photos() -> list[Path]:
    """Write the demo photos into the media storage where they are missing; the paths."""
    written = []
    for name, _caption, draw_scene in PHOTOS:
        path = Path(default_storage.path(name))
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            partial.write_bytes(image(draw_scene))
            partial.replace(path)
        written.append(path)
    return written
