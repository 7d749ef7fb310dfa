"""Binance Vision: one day of public history (mark-price klines and open interest), downloaded and replayed.

``adlwatch replay --binance SYMBOL DATE`` fetches that day's daily files from data.binance.vision
(layout and formats in research/data_sources.md §3):

- ``markPriceKlines`` 1m: ``data/futures/{um,cm}/daily/markPriceKlines/SYMBOL/1m/SYMBOL-1m-DATE.zip``,
  read by ``feeds.replay.load_replay`` exactly as a local klines file;
- ``metrics`` (5-minute open interest): ``data/futures/{um,cm}/daily/metrics/SYMBOL/SYMBOL-metrics-DATE.zip``.

USDⓈ-M lives under ``um``, COIN-M (``BTCUSD_PERP``, delivery ``BTCUSD_250926``) under ``cm``. Each zip has
a ``.CHECKSUM`` companion (``<sha256>  <name>``). The cache (``user_cache_dir("adlwatch")/vision``, the
same paths below it) only ever holds verified pairs: a file is written to a temp name, hashed while it
streams, and renamed into place only when its sha256 matches the published one. A cached pair that
still verifies is not downloaded again. Every failure (bad date or symbol, 404, network, checksum) is
an ``InputError`` naming what went wrong and where.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from adlwatch.engine.errors import InputError
from adlwatch.engine.events import OpenInterest
from adlwatch.feeds.files import write_atomic
from adlwatch.feeds.replay import ReplayData, load_replay, read_csv_text

BASE_URL = "https://data.binance.vision"
VENUE = "binance"
FORMAT = "binance-vision"
KLINES = "markPriceKlines"
METRICS = "metrics"
METRICS_COLUMNS = (
    "create_time", "symbol", "sum_open_interest", "sum_open_interest_value",
    "count_toptrader_long_short_ratio", "sum_toptrader_long_short_ratio", "count_long_short_ratio",
    "sum_taker_long_short_vol_ratio",
)

_SYMBOL = re.compile(r"^[A-Z0-9]+(?:_[A-Z0-9]+)?$")  # BTCUSDT, BTCUSD_PERP, BTCUSDT_250926
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_CHUNK = 64 * 1024
_MAX_BYTES = 256 << 20  # a daily 1m zip is tens of kB; anything near this is not the file we asked for
_US_FROM = 10**14  # epoch stamps by magnitude, as in feeds/replay.py
_NS_FROM = 10**17
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class VisionFile:
    """One daily zip on Binance Vision: where it lives there and below the cache directory."""

    kind: str  # markPriceKlines | metrics
    path: str  # data/futures/um/daily/... relative to the base URL and to the cache directory
    url: str

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def checksum_url(self) -> str:
        return self.url + ".CHECKSUM"


# --- names, dates, URLs -----------------------------------------------------------------------------

def check_symbol(symbol: str) -> str:
    """The contract as Binance spells it (upper case), else ``InputError`` on field ``symbol``."""
    text = str(symbol).strip().upper()
    if not _SYMBOL.match(text):
        raise InputError("not a Binance futures symbol (e.g. BTCUSDT, BTCUSD_PERP)", field="symbol",
                         value=symbol)
    return text


def is_coin_m(symbol: str) -> bool:
    """COIN-M contracts are quoted in USD and carry a suffix: ``BTCUSD_PERP``, ``BTCUSD_250926``."""
    text = symbol.upper()
    return text.endswith("_PERP") or "USD_" in text


def check_date(date: str | dt.date, *, today: dt.date | None = None) -> str:
    """``YYYY-MM-DD`` of a finished UTC day, else ``InputError`` on field ``date``.

    Binance publishes a daily file after its day ends, so today (UTC) is refused as well as the future.
    """
    if isinstance(date, dt.datetime):
        date = date.date()
    if isinstance(date, dt.date):
        day = date
    else:
        text = str(date).strip()
        try:
            if not _DATE.match(text):
                raise ValueError
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise InputError("not a date; expected YYYY-MM-DD (UTC), e.g. 2025-10-10", field="date",
                             value=date) from None
    today = today or dt.datetime.now(dt.UTC).date()
    if day > today:
        raise InputError(f"in the future (today is {today.isoformat()} UTC)", field="date", value=str(date))
    if day == today:
        raise InputError("today's files are published after the day ends (UTC); pick an earlier date",
                         field="date", value=str(date))
    return day.isoformat()


def vision_urls(symbol: str, date: str | dt.date, base_url: str = BASE_URL, *,
                interval: str = "1m") -> list[VisionFile]:
    """The day's ``markPriceKlines`` and ``metrics`` zips for a contract, in that order."""
    name = check_symbol(symbol)
    day = check_date(date)
    market = "cm" if is_coin_m(name) else "um"
    root = f"data/futures/{market}/daily"
    paths = [
        (KLINES, f"{root}/{KLINES}/{name}/{interval}/{name}-{interval}-{day}.zip"),
        (METRICS, f"{root}/{METRICS}/{name}/{name}-{METRICS}-{day}.zip"),
    ]
    base = base_url.rstrip("/")
    return [VisionFile(kind=kind, path=path, url=f"{base}/{path}") for kind, path in paths]


def default_cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("adlwatch")) / "vision"


# --- download -------------------------------------------------------------------------------------

def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_checksum(text: str, expected_name: str, *, url: str) -> str:
    """The sha256 from a ``.CHECKSUM`` body (``<sha256>  <name>``); ``InputError`` if it is not one."""
    parts = text.strip().split()
    name = parts[1].lstrip("*").rsplit("/", 1)[-1] if len(parts) >= 2 else expected_name
    if not parts or not _SHA256.match(parts[0]) or len(parts) > 2 or name != expected_name:
        shown = text.strip()[:100]
        raise InputError(f"not a checksum for {expected_name} (expected '<sha256>  {expected_name}', "
                         f"got {shown!r}): {url}")
    return parts[0].lower()


def _cached_ok(zip_path: Path, checksum_path: Path) -> bool:
    """A cached pair that still verifies (a damaged or half-missing pair is fetched again)."""
    if not (zip_path.is_file() and checksum_path.is_file()):
        return False
    try:
        expected = parse_checksum(checksum_path.read_text("utf-8", "replace"), zip_path.name,
                                  url=str(checksum_path))
        return _sha256_of(zip_path) == expected
    except (InputError, OSError):
        return False


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


class MissingFile(InputError):
    """HTTP 404: Binance has no such file (a wrong symbol, a date too recent or too old, or a gap)."""

    def __init__(self, url: str):
        self.url = url
        hint = " (open-interest metrics files begin later than mark-price klines and miss some days)" \
            if f"/{METRICS}/" in url else ""
        super().__init__(f"no such file on {_host(url)}: {url} — check the symbol and that the date is "
                         f"at least a day old{hint}")


def _http_error(url: str, status: int) -> InputError:
    if status == 404:
        return MissingFile(url)
    if status == 403:
        return InputError(f"HTTP 403 from {_host(url)}: {url} — the file may not exist, or access is "
                          "blocked from this network")
    if status == 429 or status >= 500:
        return InputError(f"HTTP {status} from {_host(url)}: {url} — try again later")
    return InputError(f"HTTP {status} from {_host(url)}: {url}")


def _network_error(url: str, exc: Exception) -> InputError:
    detail = str(exc) or type(exc).__name__
    return InputError(f"cannot download {url}: {detail}")


async def _fetch_text(client: httpx.AsyncClient, url: str) -> str:
    try:
        response = await client.get(url, follow_redirects=True)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise _network_error(url, exc) from None
    if response.status_code != 200:
        raise _http_error(url, response.status_code)
    return response.content[:4096].decode("utf-8", "replace")


async def _fetch_to_temp(client: httpx.AsyncClient, url: str, directory: Path) -> tuple[Path, str]:
    """The body of ``url`` in a temp file inside ``directory`` and its sha256; no temp left on failure."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=".download-", suffix=".part")
    temp = Path(name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as file:
            try:
                async with client.stream("GET", url, follow_redirects=True) as response:
                    if response.status_code != 200:
                        raise _http_error(url, response.status_code)
                    size = 0
                    async for chunk in response.aiter_bytes(_CHUNK):
                        size += len(chunk)
                        if size > _MAX_BYTES:
                            raise InputError(f"{url} is larger than {_MAX_BYTES >> 20} MiB; not a daily file")
                        digest.update(chunk)
                        file.write(chunk)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise _network_error(url, exc) from None
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp, digest.hexdigest()


async def _download_one(client: httpx.AsyncClient, item: VisionFile, cache: Path) -> Path:
    zip_path = cache / item.path
    checksum_path = zip_path.with_name(zip_path.name + ".CHECKSUM")
    if _cached_ok(zip_path, checksum_path):
        return zip_path
    try:
        zip_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the cache directory ({exc.strerror or exc})",
                         file=str(zip_path.parent)) from None
    try:
        checksum_text = await _fetch_text(client, item.checksum_url)
    except MissingFile:
        raise MissingFile(item.url) from None  # Binance publishes the pair together: name the data file
    expected = parse_checksum(checksum_text, item.name, url=item.checksum_url)
    try:
        temp, actual = await _fetch_to_temp(client, item.url, zip_path.parent)
    except OSError as exc:  # the network ones are InputError already: this is the disk
        raise InputError(f"cannot write to the cache ({exc.strerror or exc})", file=str(zip_path)) from None
    if actual != expected:
        temp.unlink(missing_ok=True)
        # a stale pair from an earlier download would no longer match what was published: drop it too
        zip_path.unlink(missing_ok=True)
        checksum_path.unlink(missing_ok=True)
        raise InputError(f"checksum mismatch: published sha256 {expected}, downloaded file has {actual}; "
                         f"the file was deleted — try again later ({item.url})", file=item.name)
    try:
        os.replace(temp, zip_path)
        write_atomic(checksum_path, checksum_text.encode("utf-8"), prefix=".download-", suffix=".part")
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise InputError(f"cannot write to the cache ({exc.strerror or exc})", file=str(zip_path)) from None
    return zip_path


async def download_day(symbol: str, date: str | dt.date, *, cache_dir: str | os.PathLike | None = None,
                       base_url: str = BASE_URL, timeout: float = 30) -> list[Path]:
    """Download (or find in the cache) the day's ``markPriceKlines`` and ``metrics`` zips, verified.

    Returns their cached paths in ``vision_urls`` order. ``cache_dir`` is the directory that mirrors
    the Vision paths (default ``user_cache_dir("adlwatch")/vision``).
    """
    paths = await _download(symbol, date, cache_dir, base_url, timeout, optional=())
    return [p for p in paths if p is not None]


async def _download(symbol, date, cache_dir, base_url: str, timeout: float, *,
                    optional: tuple[str, ...]) -> list[Path | None]:
    """``download_day``; a 404 for a kind in ``optional`` gives None in its place instead of an error."""
    from adlwatch.feeds.transport import make_http_client

    files = vision_urls(symbol, date, base_url)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    out: list[Path | None] = []
    async with make_http_client(base_url, timeout) as client:
        for item in files:
            try:
                out.append(await _download_one(client, item, cache))
            except MissingFile:
                if item.kind not in optional:
                    raise
                out.append(None)
    return out


# --- metrics CSV ----------------------------------------------------------------------------------

def _metrics_time_ms(text: str) -> int:
    """``create_time``: text ``YYYY-MM-DD HH:MM:SS`` (UTC) in the files seen; epoch ms/µs also accepted."""
    if text.isascii() and text.isdigit():
        value = int(text)
        return value // 1_000_000 if value >= _NS_FROM else value // 1_000 if value >= _US_FROM else value
    moment = dt.datetime.fromisoformat(text)  # ValueError when it is neither
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


def _metrics_number(text: str, name: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError("not a number", field=name, value=text) from None
    if not (value == value and abs(value) != float("inf")):
        raise InputError("not a finite number", field=name, value=text)
    if value < 0:
        raise InputError("must not be negative", field=name, value=text)
    return value


def _coin_m_face_usd(symbol: str) -> float | None:
    """USD face value of one COIN-M contract from the bundled instrument table, None when not listed."""
    from adlwatch.engine.instruments import default_catalogue

    try:
        return float(default_catalogue().get(VENUE, symbol).contract_size)
    except (KeyError, LookupError, InputError, ValueError):
        return None


def load_metrics(path: str | os.PathLike) -> list[OpenInterest]:
    """``OpenInterest`` events (venue ``binance``) from a Vision ``metrics`` file (zip, gzip or CSV).

    One event per row, at ``create_time``. USDⓈ-M: ``open_interest = sum_open_interest`` (base units),
    ``open_interest_usd = sum_open_interest_value`` (USDT). COIN-M reports contracts and a value in
    coin (data_sources.md §3), so there ``open_interest = sum_open_interest_value`` (coin = base units)
    and ``open_interest_usd = contracts × face value`` when the instrument table knows the contract,
    else None (the engine then values it at the mark). Rows without open interest are skipped and
    exact duplicate rows (they occur) are kept once. A bad row raises ``InputError`` with its line.
    """
    text = read_csv_text(path)
    reader = csv.reader(io.StringIO(text))
    out: list[OpenInterest] = []
    seen: set[tuple] = set()
    faces: dict[str, float | None] = {}
    header_checked = False
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(f"unreadable CSV ({exc})", file=str(path), line=reader.line_num or None) from None
        number = reader.line_num
        cells = [c.strip() for c in row]
        if not cells or not any(cells):
            continue
        if not header_checked:
            header_checked = True
            if cells[0] == "create_time":  # older files may lack the header: sniff, as for klines
                if tuple(cells[:4]) != METRICS_COLUMNS[:4]:
                    raise InputError(f"not a Binance metrics header; expected {','.join(METRICS_COLUMNS)}",
                                     file=str(path), line=number)
                continue
        if len(cells) < 4:
            raise InputError(f"{len(cells)} columns, expected {len(METRICS_COLUMNS)} "
                             f"({','.join(METRICS_COLUMNS)})", file=str(path), line=number)
        try:
            try:
                ts = _metrics_time_ms(cells[0])
            except ValueError:
                raise InputError("not a time (expected YYYY-MM-DD HH:MM:SS, UTC)", field="create_time",
                                 value=cells[0]) from None
            symbol = cells[1].upper()
            if not symbol:
                raise InputError("missing value", field="symbol", value="")
            contracts_or_base = _metrics_number(cells[2], "sum_open_interest")
            value = _metrics_number(cells[3], "sum_open_interest_value")
        except InputError as exc:
            raise exc.with_file(str(path), number) from None
        key = (ts, symbol, contracts_or_base, value)
        if contracts_or_base is None or key in seen:
            continue
        seen.add(key)
        if is_coin_m(symbol):
            if value is None:
                continue
            if symbol not in faces:
                faces[symbol] = _coin_m_face_usd(symbol)
            face = faces[symbol]
            oi, oi_usd = value, (contracts_or_base * face if face is not None else None)
        else:
            oi, oi_usd = contracts_or_base, value
        out.append(OpenInterest(venue=VENUE, symbol=symbol, ts=ts, recv_ns=ts * 1_000_000,
                                open_interest=oi, open_interest_usd=oi_usd))
    return out


# --- the whole day --------------------------------------------------------------------------------

async def load_binance_day(symbol: str, date: str | dt.date, *, require_metrics: bool = True,
                           cache_dir: str | os.PathLike | None = None, base_url: str = BASE_URL,
                           timeout: float = 30) -> ReplayData:
    """Download (as ``download_day``) and load one day: mark prices and open interest, merged.

    The events are sorted by replay time; ``format`` is ``binance-vision`` and ``path`` the klines zip
    in the cache. ``require_metrics=False`` replays the mark prices alone when Binance has no metrics
    file for the day (HTTP 404: they start later than the klines and some days are missing); any other
    failure still raises.
    """
    name = check_symbol(symbol)
    optional = () if require_metrics else (METRICS,)
    klines_path, metrics_path = await _download(name, date, cache_dir, base_url, timeout, optional=optional)
    marks = load_replay(klines_path, venue=VENUE, symbol=name)
    open_interest = [e for e in load_metrics(metrics_path) if e.symbol == name] if metrics_path else []
    return ReplayData.from_events([*marks.events, *open_interest], format=FORMAT, path=str(klines_path))


__all__ = [
    "BASE_URL", "FORMAT", "VisionFile", "check_date", "check_symbol", "default_cache_dir", "download_day",
    "MissingFile", "is_coin_m", "load_binance_day", "load_metrics", "parse_checksum", "vision_urls",
]
