#!/usr/bin/env python3
"""Render a terminal screen captured with `tmux capture-pane -p -e` to a PNG.

Usage: render_ansi.py INPUT.ans OUTPUT.png [--cols 100] [--rows 30] [--size 15]

Understands ANSI SGR sequences (ESC [ ... m): reset, bold, dim, italic,
underline, reverse, hidden, strike-through, the 16 standard colours (30-37,
40-47, 90-97, 100-107), 256-colour (38;5;n / 48;5;n) and truecolor
(38;2;r;g;b / 48;2;r;g;b, with ';' or ':' separators), and the default
foreground/background (39 / 49).  Other escape sequences are skipped.

Text is drawn on a fixed cell grid whose width is the font's advance width,
with DejaVu Sans Mono (Debian package fonts-dejavu-core).  Box drawing
(U+2500-U+257F) and block elements (U+2580-U+259F) are drawn as shapes so
lines join seamlessly between cells; any other glyph missing from the mono
font falls back to another font that has it, one glyph at a time.

Needs Pillow (`pip install pillow`).
"""

import argparse
import os
import re
import sys
import unicodedata

from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = [
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/local/share/fonts",
    os.path.expanduser("~/.local/share/fonts"),
]
MONO = {
    "regular": "DejaVuSansMono.ttf",
    "bold": "DejaVuSansMono-Bold.ttf",
    "italic": "DejaVuSansMono-Oblique.ttf",
    "bolditalic": "DejaVuSansMono-BoldOblique.ttf",
}
FALLBACKS = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf"]

# Dark theme.  The 16 base colours (normal 0-7, bright 8-15).
DEFAULT_FG = (0xD4, 0xD7, 0xDC)
DEFAULT_BG = (0x16, 0x1A, 0x21)
PALETTE16 = [
    (0x1E, 0x22, 0x2A),  # black
    (0xE0, 0x6C, 0x75),  # red
    (0x98, 0xC3, 0x79),  # green
    (0xE5, 0xC0, 0x7B),  # yellow
    (0x61, 0xAF, 0xEF),  # blue
    (0xC6, 0x78, 0xDD),  # magenta
    (0x56, 0xB6, 0xC2),  # cyan
    (0xD4, 0xD7, 0xDC),  # white
    (0x5C, 0x63, 0x70),  # bright black
    (0xFF, 0x7B, 0x86),  # bright red
    (0xB5, 0xE8, 0x90),  # bright green
    (0xFF, 0xD6, 0x8A),  # bright yellow
    (0x82, 0xC4, 0xFF),  # bright blue
    (0xDE, 0x93, 0xF5),  # bright magenta
    (0x74, 0xD3, 0xDE),  # bright cyan
    (0xFF, 0xFF, 0xFF),  # bright white
]


def color256(n):
    if n < 16:
        return PALETTE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + 10 * (n - 232)
    return (v, v, v)


def find_font(name):
    for d in FONT_DIRS:
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    return None


class Style:
    __slots__ = ("fg", "bg", "bold", "dim", "italic", "underline",
                 "reverse", "hidden", "strike")

    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None  # None = default, else (r, g, b) or int 0-15
        self.bg = None
        self.bold = self.dim = self.italic = self.underline = False
        self.reverse = self.hidden = self.strike = False

    def copy(self):
        s = Style.__new__(Style)
        for k in Style.__slots__:
            setattr(s, k, getattr(self, k))
        return s


def parse_extended(params, i):
    """Parse the colour after 38/48 at params[i]; return (colour, next index)."""
    if i >= len(params):
        return None, i
    mode = params[i]
    if mode == 5 and i + 1 < len(params):
        return color256(params[i + 1]), i + 2
    if mode == 2 and i + 3 < len(params):
        r, g, b = params[i + 1:i + 4]
        return (r & 255, g & 255, b & 255), i + 4
    return None, len(params)


def apply_sgr(style, raw):
    if raw == "":
        style.reset()
        return
    # Colon sub-parameters (38:2::r:g:b or 38:5:n) come as one group.
    groups = raw.split(";")
    params = []
    for g in groups:
        if ":" in g:
            sub = [int(x) if x else 0 for x in g.split(":")]
            if sub[0] in (38, 48, 58) and len(sub) > 1:
                if sub[1] == 2 and len(sub) >= 6:  # 38:2:cs:r:g:b
                    sub = [sub[0], 2] + sub[-3:]
                apply_params(style, sub)
                continue
            params.append(sub[0])
        else:
            params.append(int(g) if g else 0)
    apply_params(style, params)


def apply_params(style, params):
    i = 0
    while i < len(params):
        p = params[i]
        i += 1
        if p == 0:
            style.reset()
        elif p == 1:
            style.bold = True
        elif p == 2:
            style.dim = True
        elif p == 3:
            style.italic = True
        elif p == 4:
            style.underline = True
        elif p == 7:
            style.reverse = True
        elif p == 8:
            style.hidden = True
        elif p == 9:
            style.strike = True
        elif p in (21, 22):
            style.bold = style.dim = False
        elif p == 23:
            style.italic = False
        elif p == 24:
            style.underline = False
        elif p == 27:
            style.reverse = False
        elif p == 28:
            style.hidden = False
        elif p == 29:
            style.strike = False
        elif 30 <= p <= 37:
            style.fg = p - 30
        elif p == 38:
            c, i = parse_extended(params, i)
            if c is not None:
                style.fg = c
        elif p == 39:
            style.fg = None
        elif 40 <= p <= 47:
            style.bg = p - 40
        elif p == 48:
            c, i = parse_extended(params, i)
            if c is not None:
                style.bg = c
        elif p == 49:
            style.bg = None
        elif p == 58:
            _, i = parse_extended(params, i)  # underline colour: ignored
        elif 90 <= p <= 97:
            style.fg = p - 90 + 8
        elif 100 <= p <= 107:
            style.bg = p - 100 + 8


ESC_RE = re.compile(
    r"\x1b\[([0-9;:?<=>]*)([@-~])"      # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1b[@-Z\\-_]"                  # other two-byte escapes
)


def char_width(ch):
    if unicodedata.combining(ch):
        return 0
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 2
    return 1


def parse(text, cols, rows):
    """Return rows x cols grid of (char, Style) cells (char '' = wide tail)."""
    blank = Style()
    grid = [[(" ", blank) for _ in range(cols)] for _ in range(rows)]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    style = Style()
    for y, line in enumerate(lines[:rows]):
        x = 0
        pos = 0
        for m in ESC_RE.finditer(line):
            x = put_text(grid[y], line[pos:m.start()], x, style, cols)
            if m.group(2) == "m":
                apply_sgr(style, m.group(1))
            pos = m.end()
        put_text(grid[y], line[pos:], x, style, cols)
        # tmux carries the SGR state across lines; keep `style` as is.
    return grid


def put_text(row, s, x, style, cols):
    for ch in s:
        if ch in "\r\x07":
            continue
        if ch == "\t":
            nx = min(cols, (x // 8 + 1) * 8)
            while x < nx:
                row[x] = (" ", style.copy())
                x += 1
            continue
        w = char_width(ch)
        if w == 0:
            if x > 0:
                c, st = row[x - 1]
                row[x - 1] = (c + ch, st)
            continue
        if x + w > cols:
            break
        row[x] = (ch, style.copy())
        if w == 2:
            row[x + 1] = ("", style.copy())
        x += w
    return x


class Renderer:
    def __init__(self, size):
        self.fonts = {}
        for key, name in MONO.items():
            path = find_font(name) or find_font(MONO["regular"])
            if path is None:
                sys.exit("DejaVu Sans Mono not found: apt-get install fonts-dejavu-core")
            self.fonts[key] = ImageFont.truetype(path, size)
        self.fallbacks = [ImageFont.truetype(p, size)
                          for p in (find_font(n) for n in FALLBACKS) if p]
        reg = self.fonts["regular"]
        self.cw = max(1, round(reg.getlength("M")))
        ascent, descent = reg.getmetrics()
        self.ascent = ascent
        self.ch = ascent + descent
        self._notdef = {}
        self._has = {}

    def has_glyph(self, font, ch):
        key = (id(font), ch)
        if key in self._has:
            return self._has[key]
        if id(font) not in self._notdef:
            self._notdef[id(font)] = bytes(font.getmask("\U0010FFFD"))
        mask = bytes(font.getmask(ch))
        ok = mask != self._notdef[id(font)] or ch.isspace()
        self._has[key] = ok
        return ok

    def font_for(self, ch, st):
        key = ("bold" if st.bold else "regular")
        if st.italic:
            key = "bolditalic" if st.bold else "italic"
        f = self.fonts[key]
        if self.has_glyph(f, ch[0]):
            return f
        for fb in self.fallbacks:
            if self.has_glyph(fb, ch[0]):
                return fb
        return f

    def colours(self, st):
        def res(c, default):
            if c is None:
                return default
            if isinstance(c, int):
                return PALETTE16[c]
            return c
        fg = res(st.fg, DEFAULT_FG)
        bg = res(st.bg, DEFAULT_BG)
        if st.reverse:
            fg, bg = bg, fg
        if st.dim:
            fg = tuple((a * 3 + b * 2) // 5 for a, b in zip(fg, bg))
        if st.hidden:
            fg = bg
        return fg, bg

    def render(self, grid, pad):
        rows, cols = len(grid), len(grid[0])
        cw, chh = self.cw, self.ch
        img = Image.new("RGB", (cols * cw + 2 * pad, rows * chh + 2 * pad), DEFAULT_BG)
        d = ImageDraw.Draw(img)
        for y, row in enumerate(grid):
            for x, (ch, st) in enumerate(row):
                if ch == "":
                    continue
                fg, bg = self.colours(st)
                w = 2 if (x + 1 < cols and row[x + 1][0] == "") else 1
                x0, y0 = pad + x * cw, pad + y * chh
                if bg != DEFAULT_BG:
                    d.rectangle([x0, y0, x0 + w * cw - 1, y0 + chh - 1], fill=bg)
                if ch != " " and not draw_box(d, ch, x0, y0, cw, chh, fg, st.bold):
                    d.text((x0, y0), ch, font=self.font_for(ch, st), fill=fg)
                if st.underline:
                    uy = y0 + self.ascent + 1
                    d.line([x0, uy, x0 + w * cw - 1, uy], fill=fg)
                if st.strike:
                    sy = y0 + chh // 2
                    d.line([x0, sy, x0 + w * cw - 1, sy], fill=fg)
        return img


# Box drawing: for each char, the weight of its (up, right, down, left) arms.
# 1 = light, 2 = heavy, 3 = double.
def _box_table():
    t = {}
    L, H, D = 1, 2, 3
    spec = {
        "─": (0, L, 0, L), "━": (0, H, 0, H), "│": (L, 0, L, 0), "┃": (H, 0, H, 0),
        "┌": (0, L, L, 0), "┐": (0, 0, L, L), "└": (L, L, 0, 0), "┘": (L, 0, 0, L),
        "┏": (0, H, H, 0), "┓": (0, 0, H, H), "┗": (H, H, 0, 0), "┛": (H, 0, 0, H),
        "├": (L, L, L, 0), "┤": (L, 0, L, L), "┬": (0, L, L, L), "┴": (L, L, 0, L),
        "┼": (L, L, L, L), "┣": (H, H, H, 0), "┫": (H, 0, H, H), "┳": (0, H, H, H),
        "┻": (H, H, 0, H), "╋": (H, H, H, H),
        "═": (0, D, 0, D), "║": (D, 0, D, 0), "╔": (0, D, D, 0), "╗": (0, 0, D, D),
        "╚": (D, D, 0, 0), "╝": (D, 0, 0, D), "╠": (D, D, D, 0), "╣": (D, 0, D, D),
        "╦": (0, D, D, D), "╩": (D, D, 0, D), "╬": (D, D, D, D),
        "╭": (0, L, L, 0), "╮": (0, 0, L, L), "╰": (L, L, 0, 0), "╯": (L, 0, 0, L),
        "╴": (0, 0, 0, L), "╵": (L, 0, 0, 0), "╶": (0, L, 0, 0), "╷": (0, 0, L, 0),
        "╸": (0, 0, 0, H), "╹": (H, 0, 0, 0), "╺": (0, H, 0, 0), "╻": (0, 0, H, 0),
        "╼": (0, H, 0, L), "╾": (0, L, 0, H),
    }
    t.update(spec)
    return t


BOX = _box_table()
DASHES = {"┄": (0, 3), "┅": (0, 3), "┈": (0, 4), "┉": (0, 4), "╌": (0, 2), "╍": (0, 2),
          "┆": (1, 3), "┇": (1, 3), "┊": (1, 4), "┋": (1, 4), "╎": (1, 2), "╏": (1, 2)}


def draw_box(d, ch, x0, y0, cw, chh, fg, bold):
    """Draw box drawing / block element chars as shapes. Return True if drawn."""
    if len(ch) != 1:
        return False
    o = ord(ch)
    lw = max(1, round(cw / 8))
    hw = lw * 2 + 1
    cx, cy = x0 + cw // 2, y0 + chh // 2
    x1, y1 = x0 + cw - 1, y0 + chh - 1
    if ch in BOX:
        up, right, down, left = BOX[ch]
        rounded = ch in "╭╮╰╯"

        def arm(weight, pts):
            if not weight:
                return
            (ax, ay), (bx, by) = pts
            if weight == 3:
                g = lw + 1
                if ax == bx:
                    for off in (-g, g):
                        d.line([ax + off, ay, bx + off, by], fill=fg, width=lw)
                else:
                    for off in (-g, g):
                        d.line([ax, ay + off, bx, by + off], fill=fg, width=lw)
                return
            w = hw if weight == 2 else lw
            if ax == bx:
                d.rectangle([ax - w // 2, min(ay, by), ax - w // 2 + w - 1, max(ay, by)], fill=fg)
            else:
                d.rectangle([min(ax, bx), ay - w // 2, max(ax, bx), ay - w // 2 + w - 1], fill=fg)

        if rounded:
            r = min(cw, chh) // 2
            # draw the straight parts plus a quarter arc
            box = {"╭": (cx, cy, cx + 2 * r, cy + 2 * r, 180, 270),
                   "╮": (cx - 2 * r, cy, cx, cy + 2 * r, 270, 360),
                   "╰": (cx, cy - 2 * r, cx + 2 * r, cy, 90, 180),
                   "╯": (cx - 2 * r, cy - 2 * r, cx, cy, 0, 90)}[ch]
            bx0, by0, bx1, by1, a0, a1 = box
            d.arc([bx0 - lw // 2, by0 - lw // 2, bx1 - lw // 2, by1 - lw // 2], a0, a1, fill=fg, width=lw)
            if up:
                d.rectangle([cx - lw // 2, y0, cx - lw // 2 + lw - 1, cy - r], fill=fg)
            if down:
                d.rectangle([cx - lw // 2, cy + r, cx - lw // 2 + lw - 1, y1], fill=fg)
            if left:
                d.rectangle([x0, cy - lw // 2, cx - r, cy - lw // 2 + lw - 1], fill=fg)
            if right:
                d.rectangle([cx + r, cy - lw // 2, x1, cy - lw // 2 + lw - 1], fill=fg)
            return True
        # Double lines: extend the arms so corners meet.
        ext = lw + 1 if 3 in (up, right, down, left) else 0
        arm(up, ((cx, y0), (cx, cy + (ext if not down else 0))))
        arm(down, ((cx, cy - (ext if not up else 0)), (cx, y1)))
        arm(left, ((x0, cy), (cx + (ext if not right else 0), cy)))
        arm(right, ((cx - (ext if not left else 0), cy), (x1, cy)))
        return True
    if ch in DASHES:
        vertical, n = DASHES[ch]
        w = hw if ch in "┅┉╍┇┋╏" else lw
        if vertical:
            seg = chh / n
            for i in range(n):
                a = y0 + int(i * seg)
                d.rectangle([cx - w // 2, a, cx - w // 2 + w - 1, a + int(seg * 0.6)], fill=fg)
        else:
            seg = cw / n
            for i in range(n):
                a = x0 + int(i * seg)
                d.rectangle([a, cy - w // 2, a + max(1, int(seg * 0.6)) - 1, cy - w // 2 + w - 1], fill=fg)
        return True
    if 0x2581 <= o <= 0x2588:  # lower 1/8 .. full block
        h = round(chh * (o - 0x2580) / 8)
        d.rectangle([x0, y1 - h + 1, x1, y1], fill=fg)
        return True
    if 0x2589 <= o <= 0x258F:  # left 7/8 .. 1/8 block
        w = round(cw * (0x2590 - o) / 8)
        d.rectangle([x0, y0, x0 + w - 1, y1], fill=fg)
        return True
    if ch == "▀":
        d.rectangle([x0, y0, x1, y0 + chh // 2 - 1], fill=fg)
        return True
    if ch == "▐":
        d.rectangle([x0 + cw // 2, y0, x1, y1], fill=fg)
        return True
    if ch == "▔":
        d.rectangle([x0, y0, x1, y0 + max(1, chh // 8) - 1], fill=fg)
        return True
    if ch == "▕":
        d.rectangle([x1 - max(1, cw // 8) + 1, y0, x1, y1], fill=fg)
        return True
    if ch in "░▒▓":
        density = {"░": 4, "▒": 2, "▓": 1}[ch]
        for yy in range(y0, y1 + 1):
            for xx in range(x0, x1 + 1):
                if ch == "▓":
                    if (xx + yy) % 4 != 0:
                        d.point((xx, yy), fill=fg)
                elif (xx + 2 * yy) % density == 0 and (ch != "░" or yy % 2 == 0):
                    d.point((xx, yy), fill=fg)
        return True
    quads = {"▖": "3", "▗": "4", "▘": "1", "▝": "2", "▙": "134", "▚": "14",
             "▛": "123", "▜": "124", "▞": "23", "▟": "234"}
    if ch in quads:
        mx, my = x0 + cw // 2, y0 + chh // 2
        rect = {"1": (x0, y0, mx - 1, my - 1), "2": (mx, y0, x1, my - 1),
                "3": (x0, my, mx - 1, y1), "4": (mx, my, x1, y1)}
        for q in quads[ch]:
            d.rectangle(rect[q], fill=fg)
        return True
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input", help="file from `tmux capture-pane -p -e` (- for stdin)")
    ap.add_argument("output", help="PNG to write")
    ap.add_argument("--cols", type=int, default=100)
    ap.add_argument("--rows", type=int, default=30)
    ap.add_argument("--size", type=int, default=15, help="font size in pixels")
    ap.add_argument("--pad", type=int, default=12, help="margin in pixels")
    ap.add_argument("--colors", type=int, default=64,
                    help="palette size of the PNG (smaller file); 0 = full RGB")
    args = ap.parse_args()

    if args.input == "-":
        text = sys.stdin.buffer.read().decode("utf-8", "replace")
    else:
        with open(args.input, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    grid = parse(text, args.cols, args.rows)
    img = Renderer(args.size).render(grid, args.pad)
    if args.colors:
        img = img.quantize(colors=args.colors, method=Image.Quantize.MEDIANCUT,
                           dither=Image.Dither.NONE)
    img.save(args.output, optimize=True)


if __name__ == "__main__":
    main()
