"""The library's and the model code's messages, put in GUI words.

Their sentences are written for the command line ("run `irt-desktop repair`", "--card deit-s"); a GUI
user has buttons and menus instead. `gui_text` rewrites the known advice into what to press, drops
advice that has no GUI counterpart, and leaves the rest of the message (what happened, which file) as
it was. Pure string work: no Qt, testable anywhere.
"""

from __future__ import annotations

import re

IMPORT = "File › Import weights file…"
DOWNLOAD = "File › Download default model"
MODELS = "File › Models…"
ADD_FOLDER = "Add folder…"
REPAIR = "the Repair… button"

# (pattern, replacement), applied in order; the first ones are whole sentences, the last ones pieces.
_CLI = r"`irt-desktop"
_RULES_TEXT: list[tuple[str, str]] = [
    (
        r"Install the pretrained (.+?) with " + _CLI + r" models install [\w.-]+` "
        r"\(downloads the public weights once\)\.",
        rf"Download the pretrained \1 ({DOWNLOAD}; the public weights are fetched once).",
    ),
    (
        r"Install one with " + _CLI + r" models install [\w.-]+` or " + _CLI + r" models import FILE`\.",
        f"Download one ({DOWNLOAD}) or import a weights file ({IMPORT}).",
    ),
    (r"\s*A model bundle folder can also be given directly: " + _CLI + r" index PATH --model \w+`\.", ""),
    (r"and import it:\s*irt-desktop models import PATH --card [\w.-]+", f"and bring it in with {IMPORT}"),
    (
        r"\(reinstall it, or see " + _CLI + r" models list`\)",
        f"(reinstall it, or choose another in {MODELS})",
    ),
    (r"\(see " + _CLI + r" models list`\)", f"(see {MODELS})"),
    (
        r"choose one \(" + _CLI + r" index --model ID`, or Library\.activate_model\)",
        f"choose one in {MODELS}",
    ),
    (
        r"import them without --card to use them as",
        "import them again with “Detect from the file (recommended)” to use them as",
    ),
    (
        r"name its timm architecture with --backbone",
        "this build cannot tell which architecture it is (the command line can import it by naming one)",
    ),
    (
        r";?\s*" + _CLI + r" repair --start-empty` keeps the damaged catalog aside and starts an empty one",
        "; the Start empty… button keeps the damaged catalog aside and starts an empty one",
    ),
    (r"run " + _CLI + r" repair` to restore the newest", f"use {REPAIR} to restore the newest"),
    (r":? ?run " + _CLI + r" repair`", f": use {REPAIR}"),
    (_CLI + r" repair` restores a backup", f"{REPAIR} restores a backup"),
    (r"picked up by the next " + _CLI + r" index`", "picked up by the next scan"),
    (r"add the folders again with " + _CLI + r" index FOLDER`", f"add the folders again ({ADD_FOLDER})"),
    (_CLI + r" index FOLDER` creates one", f"{ADD_FOLDER} creates one"),
    (r"by " + _CLI + r" index` first", "by the indexing of a newer window first"),
    (r"use another --library folder", "choose another library folder in Settings"),
    (
        r"or run with --allow-partial to evaluate it anyway",
        "or allow partial datasets to evaluate it anyway",
    ),
    (r"\(--allow-partial: use (.+?)\)", r"(allow partial datasets to use \1)"),
]
_RULES = [(re.compile(pattern), replacement) for pattern, replacement in _RULES_TEXT]

# What is left of a command after the rules: told as "the command line's", never as something to type.
_LEFTOVER = re.compile(r"`(irt-desktop [^`]+)`")


def gui_text(text: str | None) -> str:
    """`text` with its command-line advice replaced by the GUI's buttons and menus."""
    if not text:
        return ""
    out = text
    for pattern, replacement in _RULES:
        out = pattern.sub(replacement, out)
    out = _LEFTOVER.sub(lambda m: f"the command line's “{m.group(1).split()[1]}”", out)
    return out


def tells_to_type_a_command(text: str) -> bool:
    """Whether a message still tells the user to type an irt-desktop command or option."""
    return bool(_COMMAND.search(text) or _OPTION.search(text))


_COMMAND = re.compile(r"irt-desktop (?:index|models|repair|search|train|status|duplicates|doctor)\b")
_OPTION = re.compile(r"(?<![\w-])--[a-z][\w-]+")
