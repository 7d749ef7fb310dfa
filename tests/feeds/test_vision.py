"""Binance Vision download and replay, against a loopback HTTP server serving fixtures/vision/.

The server is a ThreadingHTTPServer on 127.0.0.1 that records every path it is asked for, so the
tests can tell a cache hit (no request) from a download. Nothing sleeps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import socket
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from adlwatch.engine.errors import InputError
from adlwatch.engine.events import MarkPrice, OpenInterest
from adlwatch.feeds.venues.binance.vision import (
    check_date,
    default_cache_dir,
    download_day,
    is_coin_m,
    load_binance_day,
    load_metrics,
    vision_urls,
)

VISION = Path(__file__).parent / "fixtures" / "vision"
UM_KLINES = "data/futures/um/daily/markPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2025-10-10.zip"
UM_METRICS = "data/futures/um/daily/metrics/BTCUSDT/BTCUSDT-metrics-2025-10-10.zip"
CM_KLINES = "data/futures/cm/daily/markPriceKlines/BTCUSD_PERP/1m/BTCUSD_PERP-1m-2022-03-01.zip"
CM_METRICS = "data/futures/cm/daily/metrics/BTCUSD_PERP/BTCUSD_PERP-metrics-2022-03-01.zip"


class VisionServer:
    """A static file server over ``root`` on 127.0.0.1; ``requests`` lists the paths asked for."""

    def __init__(self, root: Path):
        self.requests: list[str] = []
        requests = self.requests

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):  # keep pytest output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> VisionServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def server():
    with VisionServer(VISION) as srv:
        yield srv


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


# --- URLs and inputs ----------------------------------------------------------------------------------

def test_vision_urls_follow_the_usdm_and_coinm_layouts():
    um = vision_urls("btcusdt", "2025-10-10")
    assert [f.kind for f in um] == ["markPriceKlines", "metrics"]
    assert [f.url for f in um] == [f"https://data.binance.vision/{UM_KLINES}",
                                   f"https://data.binance.vision/{UM_METRICS}"]
    assert um[0].checksum_url == f"https://data.binance.vision/{UM_KLINES}.CHECKSUM"
    cm = vision_urls("BTCUSD_PERP", dt.date(2022, 3, 1), "http://127.0.0.1:1/")
    assert [f.path for f in cm] == [CM_KLINES, CM_METRICS]
    assert cm[0].url == f"http://127.0.0.1:1/{CM_KLINES}"


def test_coin_m_is_told_by_the_contract_suffix():
    assert is_coin_m("BTCUSD_PERP") and is_coin_m("ETHUSD_250926")
    assert not is_coin_m("BTCUSDT") and not is_coin_m("BTCUSDT_250926") and not is_coin_m("ETHUSDC")


@pytest.mark.parametrize("date", ["2025-13-01", "20251010", "2025-1-10", "yesterday", "", "2999-01-01"])
async def test_a_bad_date_is_an_input_error_naming_the_field_before_any_request(date, server, tmp_path):
    with pytest.raises(InputError) as err:
        await download_day("BTCUSDT", date, cache_dir=tmp_path, base_url=server.base_url)
    assert err.value.field == "date"
    assert err.value.value == date
    assert server.requests == []


def test_today_is_refused_because_its_file_is_not_published_yet():
    with pytest.raises(InputError, match="after the day ends") as err:
        check_date("2026-01-02", today=dt.date(2026, 1, 2))
    assert err.value.field == "date"
    assert check_date("2026-01-01", today=dt.date(2026, 1, 2)) == "2026-01-01"


@pytest.mark.parametrize("symbol", ["../etc", "BTC USDT", "BTCUSDT/../../x", ""])
async def test_a_bad_symbol_is_an_input_error_before_any_request(symbol, server, tmp_path):
    with pytest.raises(InputError) as err:
        await download_day(symbol, "2025-10-10", cache_dir=tmp_path, base_url=server.base_url)
    assert err.value.field == "symbol"
    assert server.requests == []


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_CACHE_HOME is the Linux rule")
def test_default_cache_dir_is_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "adlwatch" / "vision"


# --- download, verify, load -----------------------------------------------------------------------------

async def test_download_verifies_and_loads_the_exact_usdm_events(server, tmp_path):
    data = await load_binance_day("BTCUSDT", "2025-10-10", cache_dir=tmp_path, base_url=server.base_url)

    def mark(ts, price):
        return MarkPrice(venue="binance", symbol="BTCUSDT", ts=ts, recv_ns=ts * 1_000_000, price=price)

    def oi(ts, base, usd):
        return OpenInterest(venue="binance", symbol="BTCUSDT", ts=ts, recv_ns=ts * 1_000_000,
                            open_interest=base, open_interest_usd=usd)

    assert data.events == [
        oi(1760054400000, 92000.123, 11178014945.1),  # 2025-10-10 00:00:00 UTC
        mark(1760054459999, 121520.7),  # each kline at its close_time with its close
        mark(1760054519999, 121410.3),
        mark(1760054579999, 121455.9),
        oi(1760054700000, 92100.5, 11192000000.0),  # 00:05, its exact duplicate row dropped
        oi(1760055000000, 91950.0, 11170000000.5),  # 00:10
    ]
    assert data.format == "binance-vision"
    assert data.symbols == {("binance", "BTCUSDT")}
    assert (data.start_ms, data.end_ms) == (1760054400000, 1760055000000)
    assert Path(data.path) == tmp_path / UM_KLINES
    assert sorted(server.requests) == sorted(["/" + UM_KLINES + ".CHECKSUM", "/" + UM_KLINES,
                                              "/" + UM_METRICS + ".CHECKSUM", "/" + UM_METRICS])
    # the cache mirrors the Vision layout and holds exactly the verified pairs, byte for byte
    assert files_in(tmp_path) == sorted(tmp_path / p for p in (UM_KLINES, UM_KLINES + ".CHECKSUM",
                                                               UM_METRICS, UM_METRICS + ".CHECKSUM"))
    for rel in (UM_KLINES, UM_METRICS):
        assert (tmp_path / rel).read_bytes() == (VISION / rel).read_bytes()


async def test_coinm_klines_without_header_and_open_interest_in_coin_and_usd(server, tmp_path):
    data = await load_binance_day("BTCUSD_PERP", "2022-03-01", cache_dir=tmp_path, base_url=server.base_url)
    assert data.events == [
        # COIN-M metrics: 5 578 700 contracts of 100 USD; the value column (12 925.98) is in BTC
        OpenInterest(venue="binance", symbol="BTCUSD_PERP", ts=1646092800000, recv_ns=1646092800000 * 10**6,
                     open_interest=12925.98, open_interest_usd=557870000.0),
        MarkPrice(venue="binance", symbol="BTCUSD_PERP", ts=1646092859999, recv_ns=1646092859999 * 10**6,
                  price=43160.5),
        MarkPrice(venue="binance", symbol="BTCUSD_PERP", ts=1646092919999, recv_ns=1646092919999 * 10**6,
                  price=43190.1),
    ]


async def test_cached_files_are_not_downloaded_again(server, tmp_path):
    first = await download_day("BTCUSDT", "2025-10-10", cache_dir=tmp_path, base_url=server.base_url)
    assert first == [tmp_path / UM_KLINES, tmp_path / UM_METRICS]
    assert len(server.requests) == 4
    again = await download_day("BTCUSDT", "2025-10-10", cache_dir=tmp_path, base_url=server.base_url)
    assert again == first
    assert len(server.requests) == 4  # nothing asked for the second time


async def test_a_damaged_cached_file_is_downloaded_again(server, tmp_path):
    await download_day("BTCUSDT", "2025-10-10", cache_dir=tmp_path, base_url=server.base_url)
    (tmp_path / UM_METRICS).write_bytes(b"not the zip any more")
    server.requests.clear()
    await download_day("BTCUSDT", "2025-10-10", cache_dir=tmp_path, base_url=server.base_url)
    assert sorted(server.requests) == sorted(["/" + UM_METRICS + ".CHECKSUM", "/" + UM_METRICS])
    assert (tmp_path / UM_METRICS).read_bytes() == (VISION / UM_METRICS).read_bytes()


async def test_a_checksum_mismatch_raises_and_leaves_no_file_in_the_cache(tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(VISION, mirror)
    damaged = mirror / UM_KLINES
    content = bytearray(damaged.read_bytes())
    content[-30] ^= 0xFF  # one flipped byte, the published CHECKSUM unchanged
    damaged.write_bytes(bytes(content))
    published = (mirror / (UM_KLINES + ".CHECKSUM")).read_text().split()[0]
    actual = hashlib.sha256(bytes(content)).hexdigest()
    cache = tmp_path / "cache"

    with VisionServer(mirror) as srv, pytest.raises(InputError) as err:
        await download_day("BTCUSDT", "2025-10-10", cache_dir=cache, base_url=srv.base_url)

    message = str(err.value)
    assert err.value.file == "BTCUSDT-1m-2025-10-10.zip"
    assert "checksum mismatch" in message and published in message and actual in message
    assert files_in(cache) == []  # neither the zip, nor its CHECKSUM, nor a temp file


async def test_a_missing_file_names_the_url(server, tmp_path):
    with pytest.raises(InputError) as err:
        await download_day("ETHUSDT", "2025-10-10", cache_dir=tmp_path, base_url=server.base_url)
    url = f"{server.base_url}/data/futures/um/daily/markPriceKlines/ETHUSDT/1m/ETHUSDT-1m-2025-10-10.zip"
    assert str(err.value).startswith(f"no such file on 127.0.0.1:{server.port}: {url} — ")
    assert "at least a day old" in str(err.value)
    assert files_in(tmp_path) == []


async def test_a_missing_metrics_file_fails_the_day_and_keeps_the_verified_klines(tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(VISION, mirror)
    (mirror / UM_METRICS).unlink()
    (mirror / (UM_METRICS + ".CHECKSUM")).unlink()
    cache = tmp_path / "cache"
    with VisionServer(mirror) as srv, pytest.raises(InputError) as err:
        await load_binance_day("BTCUSDT", "2025-10-10", cache_dir=cache, base_url=srv.base_url)
    assert f"{srv.base_url}/{UM_METRICS} — " in str(err.value)
    assert "metrics files begin later" in str(err.value)
    assert files_in(cache) == [cache / UM_KLINES, cache / (UM_KLINES + ".CHECKSUM")]


async def test_without_required_metrics_a_day_lacking_them_replays_the_marks_alone(tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(VISION, mirror)
    (mirror / (UM_METRICS + ".CHECKSUM")).unlink()
    with VisionServer(mirror) as srv:
        data = await load_binance_day("BTCUSDT", "2025-10-10", require_metrics=False,
                                      cache_dir=tmp_path / "cache", base_url=srv.base_url)
    assert [(e.kind, e.ts) for e in data.events] == [
        ("mark_price", 1760054459999), ("mark_price", 1760054519999), ("mark_price", 1760054579999)]


async def test_without_required_metrics_a_missing_klines_file_is_still_an_error(server, tmp_path):
    with pytest.raises(InputError, match="no such file .*/ETHUSDT-1m-2025-10-10.zip"):
        await load_binance_day("ETHUSDT", "2025-10-10", require_metrics=False, cache_dir=tmp_path,
                               base_url=server.base_url)


async def test_an_unreachable_server_names_the_url(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with pytest.raises(InputError) as err:
        await download_day("BTCUSDT", "2025-10-10", cache_dir=tmp_path, base_url=base, timeout=5)
    assert str(err.value).startswith(f"cannot download {base}/{UM_KLINES}.CHECKSUM")


async def test_a_malformed_checksum_file_is_an_input_error(tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(VISION, mirror)
    (mirror / (UM_KLINES + ".CHECKSUM")).write_text("<html>oops</html>\n")
    cache = tmp_path / "cache"
    with VisionServer(mirror) as srv, pytest.raises(InputError, match="not a checksum for BTCUSDT-1m-2025-10-10.zip"):
        await download_day("BTCUSDT", "2025-10-10", cache_dir=cache, base_url=srv.base_url)
    assert files_in(cache) == []


# --- the metrics CSV --------------------------------------------------------------------------------------

def test_metrics_without_header_with_empty_fields_and_epoch_times(tmp_path):
    path = tmp_path / "ETHUSDT-metrics-2021-12-01.csv"
    path.write_text(
        '2021-12-01 00:00:00,ETHUSDT,1500000.5,6900000000.25,"","","",""\n'
        "2021-12-01 00:05:00,ETHUSDT,,,,,,\n"  # no open interest in this row: skipped
        "1638317100000,ETHUSDT,1500100,,1,1,1,1\n"  # epoch ms; no USD value
    )
    assert load_metrics(path) == [
        OpenInterest(venue="binance", symbol="ETHUSDT", ts=1638316800000, recv_ns=1638316800000 * 10**6,
                     open_interest=1500000.5, open_interest_usd=6900000000.25),
        OpenInterest(venue="binance", symbol="ETHUSDT", ts=1638317100000, recv_ns=1638317100000 * 10**6,
                     open_interest=1500100.0, open_interest_usd=None),
    ]


@pytest.mark.parametrize(("row", "field", "value"), [
    ("2021-12-01 00:05:00,ETHUSDT,abc,1.0,,,,", "sum_open_interest", "abc"),
    ("2021-12-01 00:05:00,ETHUSDT,1.0,-5,,,,", "sum_open_interest_value", "-5"),
    ("01/12/2021 00:05,ETHUSDT,1.0,1.0,,,,", "create_time", "01/12/2021 00:05"),
    ("2021-12-01 00:05:00,,1.0,1.0,,,,", "symbol", ""),
])
def test_a_bad_metrics_row_names_file_line_field_and_value(tmp_path, row, field, value):
    path = tmp_path / "metrics.csv"
    path.write_text(
        "create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,"
        "sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio\n"
        "2021-12-01 00:00:00,ETHUSDT,1.0,1.0,,,,\n" + row + "\n"
    )
    with pytest.raises(InputError) as err:
        load_metrics(path)
    assert (err.value.file, err.value.line, err.value.field, err.value.value) == (str(path), 3, field, value)


def test_a_file_that_is_not_metrics_is_an_input_error(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("create_time,foo,bar,baz\n")
    with pytest.raises(InputError, match="not a Binance metrics header") as err:
        load_metrics(path)
    assert err.value.line == 1
