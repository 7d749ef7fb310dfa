"""`?` shows every key, the command palette's included (the README says so)."""

from __future__ import annotations

from tests.tui.test_snapshots import make_app, settle


async def test_help_names_the_command_palette_and_every_binding() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        keys = app.screen.keys
        assert "ctrl+p" in keys
        shown = {b.key_display or ", ".join(b.key.split(",")) for b in app.BINDINGS}
        assert shown <= set(keys)
