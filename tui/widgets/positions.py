"""The positions table: one row per position, formatted from the snapshot (no maths here).

Its columns are tui/columns.py's, the ones ``adlwatch check`` prints, in the screen's order.

A Line API widget (a ``ScrollView`` that renders its own lines) rather than a ``DataTable``, for the
5 Hz refresh: DataTable keys every render cache on one update counter, so a single changed cell
re-renders every visible cell through Rich (60 ms a tick at 50 positions) and leaves the old renders
in caches of thousands of entries that the garbage collector then walks. Here a row is one ``Strip``,
rebuilt only when one of its cells changed, and a tick repaints only the lines that changed.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive, var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from adlwatch.engine.monitor import MonitorState
from adlwatch.engine.snapshot import PositionRisk
from adlwatch.tui.columns import COLUMNS, Cell, Context, screen_columns

# The key columns stay on screen whatever the width; the rest scroll sideways (← →) when the
# terminal is narrower than the table, by whole columns, so no number is ever cut.
KEY_COLUMNS = tuple((c.key, c.label(False)) for c in screen_columns((), False, False) if c.key_column)
RIGHT_ALIGNED = frozenset(c.key for c in COLUMNS if c.right)
SCREEN_CELLS = {c.key: c.cell for c in COLUMNS}
FIXED_COLUMNS = len(KEY_COLUMNS)
# The table's full form (venue names, a mode column, the formula's tag) from this terminal width.
FULL_WIDTH = 250
# Rows off screen are formatted this often (ms of the view's clock) and the rows on screen at every
# tick: off screen a row only feeds the column widths (which grow, never shrink) until scrolled to,
# when the next tick formats it; ``cell()`` formats a stale row when read.
OFF_SCREEN_EVERY_MS = 5_000


def position_key(p: PositionRisk) -> str:
    return f"{p.account}:{p.index}"


def position_cells(p: PositionRisk, view: MonitorState, compact: bool,
                   keys: tuple[str, ...] | None = None) -> dict[str, Cell]:
    """The cells of a position, formatted: those of the columns ``keys`` (None: every one it can show)."""
    context = Context(view.now_ms, compact, changes=view.what_if_changes if view.hypothetical else None)
    if keys is None:
        return {key: cell(p, context) for key, cell in SCREEN_CELLS.items()}
    return {key: SCREEN_CELLS[key](p, context) for key in keys}


def columns_for(positions, hypothetical: bool, compact: bool) -> tuple[tuple[str, str], ...]:
    """The table's (key, header) columns: the key ones first, then the rest; the venue's own figures,
    a followed account's funding and the TP/SL triggers only when some position has them."""
    return tuple((c.key, c.label(compact)) for c in screen_columns(positions, hypothetical, compact))


class PositionsTable(ScrollView, can_focus=True):
    """Positions, with a row cursor; the selected one is reported up as a message."""

    COMPONENT_CLASSES = {
        "positions-table--header",
        "positions-table--even-row",
        "positions-table--cursor",
    }
    BINDINGS = [
        Binding("up", "cursor(-1)", "cursor up", show=False),
        Binding("down", "cursor(1)", "cursor down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("home,ctrl+home", "first", "first position", show=False),
        Binding("end,ctrl+end", "last", "last position", show=False),
        Binding("left", "columns(-1)", "table: columns left", show=False),
        Binding("right", "columns(1)", "table: more columns", show=False),
    ]

    BORDER_TITLE = "positions"

    cursor_row: reactive[int] = reactive(0, init=False)
    first_column: reactive[int] = reactive(0, init=False)  # the first scrolled column shown after the key ones
    view: var[MonitorState | None] = var(None, always_update=True)  # bound to the app's

    class Selected(Message):
        def __init__(self, key: str | None) -> None:
            self.key = key
            super().__init__()

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._columns: tuple[tuple[str, str], ...] = ()
        self._keys_shown: tuple[str, ...] = ()  # the columns' keys, in order
        self._widths: tuple[int, ...] = ()  # content width of each column: grows, never shrinks, so rows stay put
        self._look = Look(0, Style(), Style(), Style(), Style(), Style())
        self._shown = Shown((), 2, False, False)  # the columns on screen at the last repaint
        self._keys: list[str] | None = None  # None: columns changed, rows to rebuild
        self._rows: list[tuple[Cell, ...]] = []
        self._strips: dict[int, tuple[object, Strip]] = {}  # row index -> (what it was built from, strip)
        self._header: tuple[object, Strip] | None = None
        self._span_styles: dict[tuple[Style, str, Style], Style] = {}  # (line, span, over) -> combined
        self._reported: str | None = None
        # The rows not formatted from the latest view (off screen: OFF_SCREEN_EVERY_MS).
        self._view: MonitorState | None = None
        self._compact = False
        self._stale: set[int] = set()
        self._formatted_at: tuple | None = None  # (the view's clock period, its shocks) of the last full format

    # -- data in -------------------------------------------------------------------------------
    def watch_view(self, view: MonitorState | None) -> None:
        if view is None:
            return
        self.show(view, compact=self.app.size.width < FULL_WIDTH)

    def show(self, view: MonitorState, compact: bool = False) -> None:
        """The rows of ``view``: all of them when the positions, the columns or the what-if changed or
        the view's clock entered a new period of ``OFF_SCREEN_EVERY_MS``, else only those on screen.
        Formatting a row costs about as much as the engine's figures for it; at 300 positions under a
        firehose, formatting the rows no one can see at every tick was the table's main cost."""
        selected = self.selected_key
        positions = view.snapshot.positions
        columns = columns_for(positions, view.hypothetical, compact)
        if columns != self._columns or compact != self._compact:
            self._columns = columns
            self._keys_shown = tuple(key for key, _ in columns)
            self._keys = None
        self._view, self._compact = view, compact
        keys = [position_key(p) for p in positions]
        period = view.now_ms // OFF_SCREEN_EVERY_MS
        if keys == self._keys and (period, view.shocks) == self._formatted_at:
            top = int(self.scroll_offset.y)
            shown = range(max(0, top), min(len(positions), top + max(1, self.scrollable_content_region.height - 1)))
            self._stale = set(range(len(positions))).difference(shown)
        else:
            shown = range(len(positions))
            self._stale = set()
            self._formatted_at = (period, view.shocks)
        rows = list(self._rows) if keys == self._keys else [()] * len(positions)
        for i in shown:
            rows[i] = self._format(positions[i])
        if keys != self._keys:
            # New columns, or a position added or removed: widths fit the new set, the cursor stays
            # on its position.
            self._widths = tuple(cell_len(label) for _, label in self._columns)
            self._keys, self._rows = keys, rows
            self._strips.clear()
            self._grow_widths(rows)
            self._resize()
            self.set_reactive(PositionsTable.cursor_row, keys.index(selected) if selected in keys else 0)
            self._follow_cursor()
            self.refresh()
        else:
            changed = [i for i, (old, new) in enumerate(zip(self._rows, rows, strict=True)) if old != new]
            self._rows = rows
            if self._grow_widths(rows[i] for i in changed):
                self._resize()
                self.refresh()
            else:
                for i in changed:
                    self.refresh_line(i + 1)  # line 0 is the header
        self._report()

    def _format(self, p: PositionRisk) -> tuple[Cell, ...]:
        return tuple(position_cells(p, self._view, self._compact, self._keys_shown).values())

    def _fresh(self, row: int) -> tuple[Cell, ...]:
        """Row ``row`` formatted from the latest view (an off-screen row is formatted when read)."""
        if row in self._stale:
            self._stale.discard(row)
            self._rows[row] = self._format(self._view.snapshot.positions[row])
        return self._rows[row]

    def _grow_widths(self, rows) -> bool:
        widths = list(self._widths)
        for row in rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], sum(cell_len(text) for text, _ in cell))
        grew = tuple(widths) != self._widths
        self._widths = tuple(widths)
        return grew

    def _resize(self) -> None:
        # Never wider than the screen: the table scrolls sideways by whole columns (``first_column``).
        self.virtual_size = Size(0, len(self._rows) + 1)

    # -- selection -----------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def selected_key(self) -> str | None:
        return self._keys[self.cursor_row] if self._keys and 0 <= self.cursor_row < len(self._keys) else None

    def cell(self, row: int, column: str) -> str:
        """The text one cell shows (what a test reads)."""
        index = [key for key, _ in self._columns].index(column)
        return "".join(text for text, _ in self._fresh(row)[index])

    def move_cursor(self, row: int) -> None:
        self.cursor_row = row

    def validate_cursor_row(self, row: int) -> int:
        return max(0, min(row, len(self._rows) - 1))

    def watch_cursor_row(self) -> None:
        self._follow_cursor()
        self.refresh()
        self._report()

    def _follow_cursor(self) -> None:
        """Scroll so the cursor's row shows under the header."""
        visible = max(1, self.scrollable_content_region.height - 1)
        if self.cursor_row < self.scroll_y:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= self.scroll_y + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False)

    def _report(self) -> None:
        if self.selected_key != self._reported:
            self._reported = self.selected_key
            self.post_message(self.Selected(self._reported))

    def action_cursor(self, step: int) -> None:
        self.cursor_row += step

    def action_page(self, pages: int) -> None:
        self.cursor_row += pages * max(1, self.scrollable_content_region.height - 1)

    def action_columns(self, step: int) -> None:
        """Scroll the columns after the key ones by whole columns; no further right than showing the last."""
        if step > 0 and not self._shown.more_right:
            return
        self.first_column = max(0, self.first_column + step)

    def watch_first_column(self) -> None:
        self.refresh()

    def on_mouse_scroll_right(self, event: events.MouseScrollRight) -> None:
        self.action_columns(1)

    def on_mouse_scroll_left(self, event: events.MouseScrollLeft) -> None:
        self.action_columns(-1)

    @property
    def visible_columns(self) -> tuple[str, ...]:
        """The keys of the columns on screen at the last repaint (what a test reads)."""
        return tuple(self._columns[i][0] for i in self._shown.columns if i < len(self._columns))

    def _visible(self, width: int) -> Shown:
        """The columns that fit whole in ``width``: all of them (two cells between columns, or one when
        that makes them fit), else the key columns and as many of the rest from ``first_column`` as fit,
        one cell kept for the ▸ that says more follow."""
        widths, n = self._widths, len(self._widths)
        if sum(widths) + 2 * n <= width:
            return Shown(tuple(range(n)), 2, False, False)
        if sum(widths) + n + 1 <= width:
            return Shown(tuple(range(n)), 1, False, False)
        fixed = min(FIXED_COLUMNS, n)
        start = fixed + max(0, min(self.first_column, n - fixed - 1))
        shown = list(range(fixed))
        used = sum(widths[:fixed]) + fixed + 2
        for i in range(start, n):
            if used + widths[i] + 1 > width:
                break
            shown.append(i)
            used += widths[i] + 1
        return Shown(tuple(shown), 1, start > fixed, shown[-1] < n - 1)

    def action_first(self) -> None:
        self.cursor_row = 0

    def action_last(self) -> None:
        self.cursor_row = len(self._rows) - 1

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:  # the header's ◂ and ▸ scroll the columns
            shown = self._shown
            if shown.more_right and offset.x >= self.scrollable_content_region.width - 2:
                self.action_columns(1)
            elif shown.more_left and abs(offset.x - sum(w + 1 for w in self._widths[:FIXED_COLUMNS])) <= 1:
                self.action_columns(-1)
        elif int(self.scroll_y) + offset.y - 1 < len(self._rows):
            self.cursor_row = int(self.scroll_y) + offset.y - 1

    # -- lines out -----------------------------------------------------------------------------
    def render_lines(self, crop: Region) -> list[Strip]:
        # Styles are read once a repaint (a focus or theme change shows at the next one), not once a line.
        cursor = self.get_component_rich_style("positions-table--cursor")
        self._look = Look(
            width=self.scrollable_content_region.width,
            base=self.rich_style,
            header=self.get_component_rich_style("positions-table--header"),
            even=self.get_component_rich_style("positions-table--even-row"),
            cursor=cursor,
            cursor_colour=Style(color=cursor.color),
        )
        self._shown = self._visible(self._look.width)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        look = self._look
        scroll_y = self.scroll_offset.y
        if y == 0:
            strip = self._header_strip(look)
        else:
            index = scroll_y + y - 1
            if index >= len(self._rows):
                return Strip.blank(look.width, look.base)
            strip = self._row_strip(index, look)
        return strip.crop_extend(0, look.width, look.base)

    def _header_strip(self, look: Look) -> Strip:
        made_of = (self._columns, self._widths, look, self._shown)
        if self._header is None or self._header[0] != made_of:
            cells = [((label, ""),) for _, label in self._columns]
            self._header = (made_of, self._line(cells, look.header, Style(), look.width, header=True))
        return self._header[1]

    def _row_strip(self, index: int, look: Look) -> Strip:
        if index == self.cursor_row:
            # The cursor's colour wins over the cells' (as in DataTable), their backgrounds stay.
            style, over = look.cursor, look.cursor_colour
        elif index % 2 == 0:
            style, over = look.even, Style()
        else:
            style, over = look.base, Style()
        cells = self._rows[index]
        made_of = (cells, self._widths, look, style, self._shown)
        cached = self._strips.get(index)
        if cached is None or cached[0] != made_of:
            cached = self._strips[index] = (made_of, self._line(cells, style, over, look.width))
        return cached[1]

    def _line(self, cells, style: Style, over: Style, width: int, header: bool = False) -> Strip:
        """One line: runs in the line's own style joined as they are made (most cells have no style of
        their own), a styled span's style combined once per look (``_span_styles``)."""
        shown = self._shown
        span_styles = self._span_styles
        segments = []
        run: list[str] = []  # text in the line's own style, not yet a segment
        total = 0
        trail = 1 if shown.gap == 2 else 0
        for n, i in enumerate(shown.columns):
            key, cell, column_width = self._columns[i][0], cells[i], self._widths[i]
            pad = column_width - sum(cell_len(text) for text, _ in cell)
            right = key in RIGHT_ALIGNED
            run.append("◂" if header and shown.more_left and n == FIXED_COLUMNS else " ")
            if right:
                run.append(" " * pad)
            for text, span_style in cell:
                if not span_style:
                    run.append(text)
                    continue
                combined = span_styles.get((style, span_style, over))
                if combined is None:
                    combined = span_styles[(style, span_style, over)] = style + Style.parse(span_style) + over
                if run:
                    segments.append(Segment("".join(run), style))
                    run = []
                segments.append(Segment(text, combined))
            run.append(" " * (trail + (0 if right else pad)))
            total += column_width + 1 + trail
        if shown.more_right:  # at the right edge: more columns that way
            fill = max(0, width - total - 2)
            run.append(" " * (fill + 1) + ("▸" if header else " "))
            total += fill + 2
        if total < width:
            run.append(" " * (width - total))
        if run:
            segments.append(Segment("".join(run), style))
        return Strip(segments, max(total, width)).simplify()


class Shown(NamedTuple):
    """Which columns a repaint shows, and how."""

    columns: tuple[int, ...]  # indices into the table's columns
    gap: int  # cells between two columns
    more_left: bool  # scrolled: columns after the key ones are off screen to the left
    more_right: bool


class Look(NamedTuple):
    """The styles of one repaint of the table, read from app.tcss."""

    width: int
    base: Style
    header: Style
    even: Style
    cursor: Style
    cursor_colour: Style
