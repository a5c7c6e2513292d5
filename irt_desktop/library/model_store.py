"""Which descriptor model a library uses: bundles installed in its models/ folder, and the guidance
when there is none (the GUI turns NoModelError into its "import weights" page)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from irt_desktop.fsutil import make_shareable, temp_prefix
from irt_desktop.library.errors import BundleUnusable, NoModelError
from irt_desktop.retrieval.bundle import BundleError, ModelBundle, list_bundles, load_bundle
from irt_desktop.retrieval.zoo import DEFAULT_CARD


def no_model_message(models_dir: Path, detail: str = "") -> str:
    lead = f"No descriptor model is installed in this library ({models_dir})."
    if detail:
        lead = f"{detail}\n{lead}"
    try:
        from irt_desktop.retrieval.card import shipped_cards
        from irt_desktop.retrieval.weights import offline_message

        card = shipped_cards()[DEFAULT_CARD]
        how = (
            f"Install the pretrained {card.title or card.name} with `irt-desktop models install {card.name}` "
            f"(downloads the public weights once).\nWithout internet access: {offline_message(card)}"
        )
    except Exception:  # the guidance must not fail because a card or timm is unavailable
        how = "Install one with `irt-desktop models install deit-s` or `irt-desktop models import FILE`."
    direct = "A model bundle folder can also be given directly: `irt-desktop index PATH --model BUNDLE`."
    return f"{lead}\n{how}\n{direct}"


def install_bundle(models_dir: Path, bundle: ModelBundle) -> ModelBundle:
    """The bundle as a copy inside `models_dir` (the library must not depend on a folder elsewhere)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    final = models_dir / bundle.id
    try:
        if final.resolve() == Path(bundle.path).resolve():
            return bundle
    except OSError:
        pass
    if not (final / "card.toml").is_file():
        tmp = Path(tempfile.mkdtemp(prefix=temp_prefix("install"), dir=models_dir))
        try:
            for name in ("model.safetensors", "card.toml"):
                shutil.copy2(Path(bundle.path) / name, tmp / name)
            make_shareable(tmp)  # mkdtemp's 0700 (and a 0600 source) would lock a shared library's others out
            if final.exists():  # a half-copied leftover of an earlier crash
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    installed = load_bundle(final)
    if installed.id != bundle.id:
        raise BundleError(f"{final} holds a different model than {bundle.path}")
    return installed


def bundle_for(models_dir: Path, model_id: str) -> ModelBundle:
    path = models_dir / model_id
    try:
        bundle = load_bundle(path)
    except BundleError as exc:
        if not path.is_dir():
            raise NoModelError(no_model_message(models_dir, f"Model {model_id} is not installed.")) from exc
        # There but broken: one line that names it (the card's or the weights' problem).
        raise BundleUnusable(
            f"model {model_id} is not usable: {exc} (reinstall it, or see `irt-desktop models list`)"
        ) from exc
    if bundle.id != model_id:  # its card or weights were changed in place
        raise BundleUnusable(
            f"model {model_id} is not usable: {path} now holds a different model ({bundle.id}); reinstall it"
        )
    return bundle


def default_bundle(models_dir: Path) -> ModelBundle:
    """The model to adopt when a library has none yet: the only one installed, else the default card's."""
    bundles = list_bundles(models_dir)
    if len(bundles) == 1:
        return bundles[0]
    preferred = [b for b in bundles if b.card.name == DEFAULT_CARD]
    if len(preferred) == 1:
        return preferred[0]
    if not bundles:
        raise NoModelError(no_model_message(models_dir))
    names = ", ".join(b.id for b in bundles)
    raise NoModelError(
        f"Several models are installed in {models_dir} ({names}) and none is active; choose one "
        f"(`irt-desktop index --model ID`, or Library.activate_model)."
    )
