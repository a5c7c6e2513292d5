"""What the wizard asks when the model name chosen is taken (by an installed model or an earlier run).

`name_question` builds the question as plain data (tested without showing anything); `ask_name_box`
asks it in a message box and returns the key of the answer. Starting over never deletes: the earlier
run's folder is set aside and installed models stay installed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget

from irt_desktop.gui import formatting

RESUME, START_OVER, RENAME, CANCEL = "resume", "start_over", "rename", "cancel"


@dataclass(frozen=True)
class NameQuestion:
    title: str
    text: str
    options: tuple[tuple[str, str], ...]  # (answer key, button text), the first one the default
    alternative: str  # the free name RENAME switches to


AskName = Callable[[QWidget, NameQuestion], str]
Confirm = Callable[[QWidget, str, str, str], bool]


def name_question(use: Any, past: Any, iterations: int, alternative: str) -> NameQuestion:
    """The question for `use` (finetune.NameUse) when the run would be planned into the folder of the
    earlier run `past` (a PastRun, or None when its settings differ from every earlier run's)."""
    name = use.name
    lines = []
    if use.models:
        n = len(use.models)
        lines.append(
            f"{formatting.plural(n, 'model')} named “{name}” {'is' if n == 1 else 'are'} already "
            "installed. Starting over trains a new one from the beginning; the installed "
            f"{'one stays' if n == 1 else 'ones stay'} installed beside it."
        )
    resumable = past is not None and 0 < past.iteration < iterations
    if resumable:
        lines.append(
            f"An earlier run of “{name}” with these settings stopped at iteration "
            f"{formatting.count(past.iteration)} of {formatting.count(iterations)}: it can go on from there."
        )
    elif past is not None and past.iteration >= iterations:
        lines.append(
            f"An earlier run of “{name}” with these settings already trained "
            f"{formatting.count(past.iteration)} iterations; to train again, start over."
        )
    elif use.runs and not use.models:
        lines.append(f"An earlier run used the name “{name}” with other settings.")
    if past is not None:
        lines.append(
            f"Starting over keeps the earlier run's progress: its folder is set aside as "
            f"{past.folder.name}.set-aside-… in {past.folder.parent}."
        )
    options = []
    if resumable:
        options.append((RESUME, f"Resume from iteration {formatting.count(past.iteration)}"))
    options += [(RENAME, f"Use “{alternative}”"), (START_OVER, "Start over"), (CANCEL, "Cancel")]
    return NameQuestion(f"The name “{name}” is taken", "\n\n".join(lines), tuple(options), alternative)


def name_box(parent: QWidget | None, question: NameQuestion) -> tuple[QMessageBox, dict[Any, str]]:
    """The question's message box, not shown yet, and its buttons' answer keys."""
    box = QMessageBox(QMessageBox.Icon.Question, "Fine-tune", question.title, parent=parent)
    box.setInformativeText(question.text)
    buttons = {}
    for key, text in question.options:
        role = QMessageBox.ButtonRole.RejectRole if key == CANCEL else QMessageBox.ButtonRole.AcceptRole
        buttons[box.addButton(text, role)] = key
    box.setDefaultButton(next(iter(buttons)))
    return box, buttons


def ask_name_box(parent: QWidget, question: NameQuestion) -> str:
    box, buttons = name_box(parent, question)
    box.exec()
    return buttons.get(box.clickedButton(), CANCEL)


def confirm_box(parent: QWidget, title: str, text: str, yes: str) -> bool:
    box = QMessageBox(
        QMessageBox.Icon.Question, "Fine-tune", title, QMessageBox.StandardButton.Cancel, parent
    )
    box.setInformativeText(text)
    ok = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is ok


def resolve_taken_name(wizard: Any, parent: QWidget) -> str:
    """For the wizard's chosen name: "" when it is free, else the user's answer to name_question, with
    the wizard's state updated (RENAME: the free name; START_OVER: set the earlier run aside first)."""
    from irt_desktop.retrieval.training.finetune import name_use, unique_name

    st = wizard.state
    use = name_use(st.name, wizard.models_dir, wizard.work_root)
    if not use.taken:
        return ""
    alternative = unique_name(st.name, wizard.models_dir, wizard.work_root)
    question = name_question(use, use.run_in(planned_work_dir(wizard)), st.iterations, alternative)
    answer = wizard.ask_name(parent, question)
    if answer == RENAME:
        st.name = question.alternative
    elif answer == START_OVER:
        st.start_over = True
    return answer


def planned_work_dir(wizard: Any) -> Path | None:
    """The work folder the wizard's run will use (the plan is cheap: the photos are scanned already)."""
    from irt_desktop.retrieval.training.finetune import FinetuneSettings, plan_finetune

    st = wizard.state
    try:
        plan = plan_finetune(
            st.dataset,
            FinetuneSettings(**st.run_choices(wizard.settings.bf16)),
            base=st.base,
            models_dir=wizard.models_dir,
            device=st.device or None,
            work_root=wizard.work_root,
        )
    except Exception:  # the run reports the same problem, in full, on the next page
        return None
    return plan.work_dir
