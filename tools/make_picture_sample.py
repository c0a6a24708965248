"""Write question_banks/看图题样题.zip: a tiny sample bank of picture questions (看图题) in the bank
ZIP format (docs/formats.md "Pictures"): the spreadsheet and three pictures drawn here with Pillow
(plain shapes, a few hundred bytes each), so the sample stays a few KB and needs no outside images.

    .venv/bin/python tools/make_picture_sample.py
"""
from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "question_banks" / "看图题样题.zip"
SIZE = 240


def _png(draw) -> bytes:
    image = Image.new("RGB", (SIZE, SIZE), "white")
    draw(ImageDraw.Draw(image))
    buffer = io.BytesIO()
    image.quantize(colors=8).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def no_entry(d: ImageDraw.ImageDraw) -> None:
    """禁止驶入: a red disc with a white horizontal bar."""
    d.ellipse((20, 20, 220, 220), fill=(200, 30, 40))
    d.rectangle((55, 100, 185, 140), fill="white")


def hazardous_bin(d: ImageDraw.ImageDraw) -> None:
    """A red waste bin (有害垃圾 in the national colour scheme)."""
    d.rectangle((60, 40, 180, 62), fill=(170, 20, 30))          # lid
    d.polygon([(70, 66), (170, 66), (158, 215), (82, 215)], fill=(210, 35, 45))  # body
    for x in (95, 120, 145):
        d.line((x, 85, x, 195), fill=(150, 15, 25), width=6)


def stop_sign(d: ImageDraw.ImageDraw) -> None:
    """停车让行: a red octagon with a white rim inside its edge."""
    d.regular_polygon((120, 120, 105), 8, rotation=22.5, fill=(200, 30, 40))
    d.regular_polygon((120, 120, 96), 8, rotation=22.5, fill="white")
    d.regular_polygon((120, 120, 89), 8, rotation=22.5, fill=(200, 30, 40))


QUESTIONS = [
    (["单选", "图中的交通标志表示什么？", "禁止驶入", "停车让行", "注意行人", "限制速度", "A",
      "红色圆形中间一道白色横杠是“禁止驶入”标志。", "", "容易", "交通安全"], "images/禁止驶入.png", no_entry),
    (["单选", "按照生活垃圾分类标志的颜色，图中红色的垃圾桶用于投放哪一类垃圾？", "可回收物", "有害垃圾", "厨余垃圾", "其他垃圾", "B",
      "红色为有害垃圾，蓝色为可回收物，绿色为厨余垃圾，灰色为其他垃圾。", "", "容易", "垃圾分类"], "images/红色垃圾桶.png",
     hazardous_bin),
    (["判断", "图中红色八角形的标志是“停车让行”标志。", "", "", "", "", "正确",
      "红色八角形、中间写“停”字的是停车让行标志，车辆须停车瞭望后再通行。", "", "容易", "交通安全"], "images/停车让行.png", stop_sign),
]
HEADER = ["题型", "题干", "选项A", "选项B", "选项C", "选项D", "答案", "解析", "分值", "难度", "知识点", "图片"]


def main() -> None:
    sheet = io.StringIO()
    writer = csv.writer(sheet, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row, picture, _draw in QUESTIONS:
        writer.writerow([*row, picture])
    with zipfile.ZipFile(OUT, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("看图题样题.csv", (2026, 1, 1, 0, 0, 0)), sheet.getvalue().encode("utf-8-sig"),
                         compress_type=zipfile.ZIP_DEFLATED)
        for _row, picture, draw in QUESTIONS:
            archive.writestr(zipfile.ZipInfo(picture, (2026, 1, 1, 0, 0, 0)), _png(draw))
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
