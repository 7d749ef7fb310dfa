"""The footer: Textual's, fitted to the terminal's width.

Textual's ``Footer`` lays every shown key out in the order the bindings are declared and lets the row
run off the right edge: at 100 columns a replay lost its own keys after six others. This one shows the
keys in the order that matters in the mode (``order``: the app's, the replay's controls first in a
replay), ``?`` always first since it lists every key, and only as many as fit whole beside the command
palette's key.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import groupby
from typing import NamedTuple

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel, KeyGroup

# Cells the command palette's key takes at the right edge: its bar, then " ^p palette".
PALETTE_CELLS = 12


class Item(NamedTuple):
    """One entry of the footer: a key with its words, or a group's keys under one word."""

    bindings: tuple[tuple[Binding, bool, str], ...]  # (binding, enabled, tooltip), one per action
    group: Binding.Group | None
    cells: int  # the width it takes


class KeysFooter(Footer):
    """The shown keys in ``order`` (action names; the others after them as declared, or with ``others``
    False not at all), as many as fit."""

    def __init__(self, order: Sequence[str] = (), *, others: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.order = tuple(order)
        self.others = others
        self.shown_actions: tuple[str, ...] = ()  # the actions on screen at the last compose (what a test reads)
        self._composed_width = 0

    def items(self, width: int) -> list[Item]:
        """The entries that fit in ``width`` cells, in order; the first (``?``) whatever the width."""
        rank = {action: i for i, action in enumerate(self.order)}
        by_action: dict[str, list[tuple[Binding, bool, str]]] = {}
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and (self.others or binding.action in rank):
                by_action.setdefault(binding.action, []).append((binding, enabled, tooltip))
        actions = sorted(by_action, key=lambda a: rank.get(a, len(rank)))  # stable: the rest as declared
        items = []
        for group, members in groupby(actions, lambda a: by_action[a][0][0].group):
            firsts = tuple(by_action[a][0] for a in members)
            if group is not None and len(firsts) > 1:
                items.append(Item(firsts, group, self._group_cells(firsts, group)))
            else:
                items += [Item((first,), None, self._key_cells(first[0])) for first in firsts]
        fitted, used = [], 0
        for item in items:
            if fitted and used + item.cells > width:
                break
            fitted.append(item)
            used += item.cells
        return fitted

    def _key_cells(self, binding: Binding) -> int:
        key = cell_len(self.app.get_key_display(binding))
        return key + 2 + (cell_len(binding.description) + 1 if binding.description else 0)

    def _group_cells(self, members: tuple[tuple[Binding, bool, str], ...], group: Binding.Group) -> int:
        # The keys bare, a cell of margin between them and either side, then the group's word and a cell.
        keys = sum(cell_len(self.app.get_key_display(b)) for b, _, _ in members)
        return keys + len(members) + 1 + cell_len(group.description) + 1

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        self._composed_width = self.size.width or self.app.size.width
        room = self._composed_width - (PALETTE_CELLS if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE else 0)
        items = self.items(room)
        self.shown_actions = tuple(b.action for item in items for b, _, _ in item.bindings)
        for item in items:
            yield from self._widgets(item)
        yield from self._palette_key()

    def _widgets(self, item: Item) -> Iterator:
        if item.group is None:
            (binding, enabled, tooltip), = item.bindings
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description, binding.action,
                            disabled=not enabled, tooltip=tooltip).data_bind(compact=Footer.compact)
            return
        with KeyGroup(classes="-compact" if item.group.compact else ""):
            for binding, enabled, tooltip in item.bindings:
                yield FooterKey(binding.key, self.app.get_key_display(binding), "", binding.action,
                                disabled=not enabled, tooltip=tooltip or binding.description,
                                classes="-grouped").data_bind(compact=Footer.compact)
        yield FooterLabel(item.group.description)

    def _palette_key(self) -> Iterator:
        if not (self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE):
            return
        active = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        if active is None:
            return
        _, binding, enabled, _ = active
        yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description, binding.action,
                        classes="-command-palette", disabled=not enabled, tooltip=binding.tooltip or binding.description)

    def on_resize(self, event: events.Resize) -> None:
        if self._bindings_ready and event.size.width != self._composed_width:
            self.call_after_refresh(self.recompose)
