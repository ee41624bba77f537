"""The model store: a registry of servable models and their checksummed files.

The registry ships with the package (`models/registry.json`) and can be extended on this
machine (`$TABSENSE_HOME/registry.json`, written by the model lab). Files live in
`$TABSENSE_HOME/models/<name>/<version>/` and are verified by sha256 before use, so a
truncated download or a damaged disk gives a clear error instead of wrong answers.

An entry of kind "ensemble" has no files of its own: it names registered image models
(name, version and the sha256 of the model file it was validated with) and how their
probabilities combine; installing or checking it installs or checks its members.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable

from . import paths
from .errors import FetchError, ModelCorrupt, ModelMissing, ModelNotFound, TabSenseError

log = logging.getLogger(__name__)

CHUNK = 1 << 20
DOWNLOAD_TIMEOUT_S = 60


class RegistryError(TabSenseError):
    code = "registry_invalid"
    default_message = "The model registry file is not valid."


@dataclass(frozen=True)
class FileSpec:
    path: str
    sha256: str
    bytes: int | None = None
    urls: tuple[str, ...] = ()
    bundled: bool = False  # shipped inside the package (models/bundled/<name>/<version>/)


ENSEMBLE = "ensemble"
COMBINE_METHODS = ("arithmetic", "geometric")  # weighted mean of the probabilities, or of their logs


@dataclass(frozen=True)
class MemberSpec:
    """One model of an ensemble, pinned to the version and model file it was validated with."""

    name: str
    version: str
    sha256: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    version: str
    task: str
    files: dict[str, FileSpec]
    input: dict
    output: dict
    preprocess: dict = field(default_factory=dict)
    quantization: str = "unknown"
    blessed: bool = False
    description: str = ""
    derived_from: str | None = None
    validation: dict | None = None
    params: dict = field(default_factory=dict)
    origin: str = "builtin"
    kind: str = "model"  # or ENSEMBLE
    members: tuple[MemberSpec, ...] = ()
    combine: str = "arithmetic"
    weights: tuple[float, ...] = ()  # one per member, summing to 1

    @property
    def is_ensemble(self) -> bool:
        return self.kind == ENSEMBLE

    @classmethod
    def from_dict(cls, entry: dict, origin: str) -> "ModelSpec":
        try:
            if entry.get("kind", "model") == ENSEMBLE:
                return cls._ensemble_from_dict(entry, origin)
            if entry.get("kind", "model") != "model":
                raise ValueError(f"kind must be 'model' or '{ENSEMBLE}', not {entry['kind']!r}")
            files = {
                role: FileSpec(
                    path=f["path"],
                    sha256=f["sha256"].lower(),
                    bytes=f.get("bytes"),
                    urls=tuple(f.get("urls", ())),
                    bundled=bool(f.get("bundled", False)),
                )
                for role, f in entry["files"].items()
            }
            if "model" not in files:
                raise KeyError("files.model")
            for spec in files.values():
                if Path(spec.path).name != spec.path:
                    raise ValueError(f"file path {spec.path!r} must be a bare file name")
            return cls(
                name=entry["name"],
                version=str(entry["version"]),
                task=entry["task"],
                files=files,
                input=dict(entry["input"]),
                output=dict(entry["output"]),
                preprocess=dict(entry.get("preprocess", {})),
                quantization=entry.get("quantization", "unknown"),
                blessed=bool(entry.get("blessed", False)),
                description=entry.get("description", ""),
                derived_from=entry.get("derived_from"),
                validation=entry.get("validation"),
                params=dict(entry.get("params", {})),
                origin=origin,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            name = entry.get("name", "?") if isinstance(entry, dict) else "?"
            raise RegistryError(f"Registry entry {name!r} in {origin} is invalid: {exc}.") from exc

    @classmethod
    def _ensemble_from_dict(cls, entry: dict, origin: str) -> "ModelSpec":
        members = tuple(
            MemberSpec(m["name"], str(m["version"]), m["sha256"].lower() if m.get("sha256") else None)
            for m in entry["members"]
        )
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two members")
        if len({m.name for m in members}) != len(members):
            raise ValueError("an ensemble's members must be different models")
        if entry["name"] in {m.name for m in members}:
            raise ValueError("an ensemble cannot be its own member")
        combine = entry.get("combine", "arithmetic")
        if combine not in COMBINE_METHODS:
            raise ValueError(f"combine must be one of {', '.join(COMBINE_METHODS)}, not {combine!r}")
        weights = [float(w) for w in entry.get("weights") or [1.0] * len(members)]
        if len(weights) != len(members) or not all(0 < w < float("inf") for w in weights):
            raise ValueError("weights must be one positive number per member")
        total = sum(weights)
        return cls(
            name=entry["name"],
            version=str(entry["version"]),
            task=entry.get("task", "image_classification"),
            files={},
            input={},
            output=dict(entry.get("output", {"kind": "probabilities"})),
            quantization=entry.get("quantization", ENSEMBLE),
            blessed=bool(entry.get("blessed", False)),
            description=entry.get("description", ""),
            validation=entry.get("validation"),
            origin=origin,
            kind=ENSEMBLE,
            members=members,
            combine=combine,
            weights=tuple(w / total for w in weights),
        )

    def summary(self) -> dict:
        summary = {
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "quantization": self.quantization,
            "blessed": self.blessed,
            "bytes": self.files["model"].bytes if "model" in self.files else None,
            "derived_from": self.derived_from,
            "validation": self.validation,
        }
        if self.is_ensemble:
            summary["members"] = [{"name": m.name, "version": m.version} for m in self.members]
            summary["combine"] = self.combine
        return summary


def _load_entries(text: str, origin: str) -> tuple[list[ModelSpec], dict]:
    try:
        document = json.loads(text)
        entries = document["models"]
    except (ValueError, KeyError, TypeError) as exc:
        raise RegistryError(f"The registry {origin} cannot be read: {exc}.") from exc
    return [ModelSpec.from_dict(e, origin) for e in entries], document


def _bundled_specs() -> list[ModelSpec]:
    """Models that ship inside the package: models/bundled/<name>/<version>/entry.json."""
    root = Path(str(resources.files("models"))) / "bundled"
    specs = []
    for entry_path in sorted(root.glob("*/*/entry.json")):
        try:
            entry = json.loads(entry_path.read_text("utf-8"))
            for file_entry in entry.get("files", {}).values():
                file_entry["bundled"] = True
            specs.append(ModelSpec.from_dict(entry, str(entry_path)))
        except (ValueError, OSError, RegistryError) as exc:
            log.error("ignoring the bundled model %s: %s", entry_path, exc)
    return specs


class Registry:
    """Models known to this install: the shipped registry, overlaid by the local one."""

    def __init__(self, specs: list[ModelSpec], defaults: dict[str, str]):
        self._specs = {s.name: s for s in specs}
        self.defaults = defaults
        self.problems: list[str] = []

    @classmethod
    def load(cls, home: Path | None = None) -> "Registry":
        builtin_text = resources.files("models").joinpath("registry.json").read_text("utf-8")
        specs, document = _load_entries(builtin_text, "the built-in registry")
        # A default may be a list of names: the first one registered and blessed is used, so an
        # ensemble that a rebuild did not bless gives way to the single model after it.
        defaults = {
            "image_classification": document.get("default_image_model"),
            "keyword_spotting": document.get("default_keyword_model"),
        }
        specs += _bundled_specs()
        registry = cls(specs, {})
        local = paths.local_registry_path(home)
        if local.exists():
            try:
                local_specs, local_doc = _load_entries(local.read_text("utf-8"), str(local))
            except (RegistryError, OSError, UnicodeDecodeError) as exc:
                # A broken local registry must not take the shipped models down with it.
                log.error("ignoring %s: %s", local, exc)
                registry.problems.append(f"{local} is ignored: {exc}")
            else:
                for spec in local_specs:  # local entries override shipped ones of the same name
                    registry._specs[spec.name] = spec
                defaults.update(local_doc.get("defaults", {}))
        registry.defaults = {task: registry._first_servable(choice) for task, choice in defaults.items()}
        return registry

    def _first_servable(self, choice: str | list | None) -> str | None:
        names = [choice] if isinstance(choice, str) or choice is None else list(choice)
        for name in names:
            spec = self._specs.get(name)
            if spec is not None and spec.blessed:
                return name
        return next((name for name in names if name in self._specs), names[0] if names else None)

    def names(self) -> list[str]:
        return list(self._specs)

    def specs(self) -> list[ModelSpec]:
        return list(self._specs.values())

    def get(self, name: str | None, task: str = "image_classification") -> ModelSpec:
        if name is None:
            name = self.defaults.get(task)
            if name is None:
                raise ModelNotFound(f"No default model is registered for {task}.")
        spec = self._specs.get(name)
        if spec is None:
            choices = ", ".join(sorted(self._specs))
            raise ModelNotFound(f"No model named {name!r} is registered; choose one of: {choices}.")
        return spec

    def default_name(self, task: str = "image_classification") -> str | None:
        return self.defaults.get(task)

    def members(self, spec: ModelSpec) -> list[ModelSpec]:
        """The registered models of an ensemble, checked against the versions and model files
        it was validated with."""
        found = []
        for member in spec.members:
            registered = self._specs.get(member.name)
            if registered is None or registered.version != member.version:
                have = f"v{registered.version} is registered" if registered else "it is not registered"
                raise ModelNotFound(
                    f"The ensemble {spec.name!r} needs {member.name} v{member.version}, but {have}; "
                    f"update TabSense or run `tabsense models fetch {spec.name}`."
                )
            if registered.is_ensemble or registered.task != spec.task:
                raise ModelNotFound(f"The ensemble {spec.name!r} lists {member.name!r}, which is not a single "
                                    f"{spec.task} model; fix its registry entry.")
            if member.sha256 and registered.files["model"].sha256 != member.sha256:
                raise ModelCorrupt(
                    f"The ensemble {spec.name!r} was validated with another build of {member.name!r} "
                    f"(model sha256 {member.sha256[:12]}…, registered {registered.files['model'].sha256[:12]}…); "
                    f"rebuild it with `tabsense-models ensemble`, or use --model {member.name}."
                )
            found.append(registered)
        return found


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class FileStatus:
    role: str
    path: Path
    state: str  # "ok" | "missing" | "corrupt"
    detail: str = ""


class ModelStore:
    """Model files on disk for one data home."""

    def __init__(self, home: Path | None = None, registry: Registry | None = None):
        self.home = home or paths.data_home()
        self.registry = registry or Registry.load(self.home)

    def model_dir(self, spec: ModelSpec) -> Path:
        return paths.models_dir(self.home) / spec.name / spec.version

    def file_path(self, spec: ModelSpec, role: str) -> Path:
        return self.model_dir(spec) / spec.files[role].path

    def check(self, spec: ModelSpec, verify: bool = True) -> list[FileStatus]:
        """State of each file of `spec`; `verify` checks sha256 (a few ms per MB).

        For an ensemble: its members' files, as "<member>/<role>"; a member that is not
        registered as validated is one "missing" status saying so."""
        if spec.is_ensemble:
            return self._check_members(spec, verify)
        statuses = []
        for role, file_spec in spec.files.items():
            path = self.file_path(spec, role)
            if not path.is_file():
                statuses.append(FileStatus(role, path, "missing", f"{path} does not exist"))
                continue
            size = path.stat().st_size
            if file_spec.bytes is not None and size != file_spec.bytes:
                statuses.append(
                    FileStatus(role, path, "corrupt", f"{size} bytes, expected {file_spec.bytes}")
                )
                continue
            if verify:
                actual = sha256_file(path)
                if actual != file_spec.sha256:
                    statuses.append(
                        FileStatus(role, path, "corrupt", f"sha256 {actual}, expected {file_spec.sha256}")
                    )
                    continue
            statuses.append(FileStatus(role, path, "ok"))
        return statuses

    def _check_members(self, spec: ModelSpec, verify: bool) -> list[FileStatus]:
        try:
            members = self.registry.members(spec)
        except TabSenseError as exc:
            return [FileStatus("members", self.model_dir(spec), "missing", exc.message)]
        return [
            FileStatus(f"{member.name}/{status.role}", status.path, status.state, status.detail)
            for member in members
            for status in self.check(member, verify)
        ]

    def is_available(self, spec: ModelSpec) -> bool:
        if spec.is_ensemble:
            try:
                return all(self.is_available(member) for member in self.registry.members(spec))
            except TabSenseError:
                return False
        return all(self.file_path(spec, role).is_file() for role in spec.files)

    def require(self, spec: ModelSpec) -> dict[str, Path]:
        """Paths of a verified model, or an error that names the fix.

        For an ensemble: every member is verified; the paths are keyed "<member>/<role>"."""
        if spec.is_ensemble:
            return {
                f"{member.name}/{role}": path
                for member in self.registry.members(spec)
                for role, path in self.require(member).items()
            }
        statuses = self.check(spec)
        if any(s.state == "missing" for s in statuses) and all(f.bundled for f in spec.files.values()):
            # Files that ship with TabSense itself can always be installed on the spot.
            self.fetch(spec)
            statuses = self.check(spec)
        missing = [s for s in statuses if s.state == "missing"]
        corrupt = [s for s in statuses if s.state == "corrupt"]
        if missing:
            raise ModelMissing(
                f"The model {spec.name!r} is not installed; run "
                f"`tabsense models fetch {spec.name}` to install it."
            )
        if corrupt:
            log.error("model %s damaged: %s", spec.name, "; ".join(s.detail for s in corrupt))
            raise ModelCorrupt(
                f"The file of model {spec.name!r} is damaged (checksum mismatch); run "
                f"`tabsense models fetch --force {spec.name}` to replace it."
            )
        return {s.role: s.path for s in statuses}

    # --- Fetching ---------------------------------------------------------------------

    def fetch(
        self,
        spec: ModelSpec,
        source: Path | None = None,
        force: bool = False,
        progress: Callable[[str], None] = lambda message: None,
    ) -> dict[str, str]:
        """Install every file of `spec`, from `source` (a directory) or from its URLs.

        Returns role -> "present" | "copied" | "downloaded". Each file is written to a
        temporary name, verified, then renamed, so a failure never leaves a bad file. An
        ensemble installs its members (roles "<member>/<role>").
        """
        if spec.is_ensemble:
            return {
                f"{member.name}/{role}": state
                for member in self.registry.members(spec)
                for role, state in self.fetch(member, source, force, progress).items()
            }
        outcome = {}
        target_dir = self.model_dir(spec)
        target_dir.mkdir(parents=True, exist_ok=True)
        for role, file_spec in spec.files.items():
            target = target_dir / file_spec.path
            if not force and target.is_file() and sha256_file(target) == file_spec.sha256:
                outcome[role] = "present"
                continue
            if file_spec.bundled or source is not None:
                origin = bundled_path(spec, file_spec) if file_spec.bundled else _find_in_source(Path(source), spec, file_spec)
                progress(f"{spec.name}: copying {origin}")
                _install(target, file_spec, lambda tmp: _copy(origin, tmp))
                outcome[role] = "copied"
            else:
                _install(target, file_spec, lambda tmp: _download(file_spec, tmp, progress))
                outcome[role] = "downloaded"
        return outcome


def bundled_path(spec: ModelSpec, file_spec: FileSpec) -> Path:
    path = Path(str(resources.files("models"))) / "bundled" / spec.name / spec.version / file_spec.path
    if not path.is_file():
        raise FetchError(f"{file_spec.path} of {spec.name!r} is missing from this TabSense install; reinstall TabSense.")
    return path


def _find_in_source(source: Path, spec: ModelSpec, file_spec: FileSpec) -> Path:
    if not source.is_dir():
        raise FetchError(f"{source} is not a directory; pass the folder that holds the models.")
    candidates = [
        source / spec.name / file_spec.path,
        source / spec.name / spec.version / file_spec.path,
        source / file_spec.path,
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FetchError(
        f"{file_spec.path} for model {spec.name!r} is not in {source} "
        f"(looked in {source / spec.name} and {source})."
    )


def _install(target: Path, file_spec: FileSpec, write: Callable) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".fetch-", suffix=".part")
    tmp_path = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as tmp:
            write(tmp)
        actual = sha256_file(tmp_path)
        if actual != file_spec.sha256:
            raise FetchError(
                f"{file_spec.path} has sha256 {actual}, expected {file_spec.sha256}; "
                "the source is not the expected file."
            )
        os.replace(tmp_path, target)
    except OSError as exc:
        raise FetchError(f"Could not write {target}: {exc.strerror or exc}.") from exc
    finally:
        tmp_path.unlink(missing_ok=True)


def _copy(origin: Path, out) -> None:
    with open(origin, "rb") as handle:
        shutil.copyfileobj(handle, out, CHUNK)


def _download(file_spec: FileSpec, out, progress: Callable[[str], None]) -> None:
    if not file_spec.urls:
        raise FetchError(f"{file_spec.path} has no download URL; use `--from DIR`.")
    errors = []
    for url in file_spec.urls:
        try:
            out.seek(0)
            out.truncate()
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                total = int(response.headers.get("Content-Length") or 0) or file_spec.bytes
                done, last_reported = 0, -1
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if total:
                        percent = min(100, done * 100 // total)
                        if percent // 10 != last_reported:
                            last_reported = percent // 10
                            progress(f"{file_spec.path}: {percent}% of {total:,} bytes")
            return
        except OSError as exc:  # URLError, HTTPError, timeouts are all OSErrors
            errors.append(f"{url}: {exc}")
    raise FetchError(
        f"Could not download {file_spec.path} ({'; '.join(errors)}); "
        "check the connection or use `tabsense models fetch --from DIR`."
    )
