"""The fine-tune wizard, one page per module: folders_page, settings_page, training_page, result_page,
composed by wizard. The job they drive is retrieval.training.finetune."""

from irt_desktop.gui.finetune.wizard import FinetuneWizard, WizardState

__all__ = ["FinetuneWizard", "WizardState"]
