"""Fine-tuning during optimization: compile with the task's loss and fit on its training split.

Every optimization step (pruning, clustering, quantization-aware training) wraps the model and
then trains it a little, so that the remaining weights learn to make up for what was removed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from edgekit.core import native_abort
from edgekit.core.progress import Progress, keras_callback
from edgekit.measure.evaluation import Task

DEFAULT_USER_EPOCHS = 5  # per step, for a user's model; a zoo recipe may name its own
BATCH_SIZE = 32


@dataclasses.dataclass
class FineTuning:
    task: Task
    epochs: int
    verbose: bool = True
    on_fit: Callable[[str], None] | None = None  # told each fine-tuning's label as it starts

    @classmethod
    def for_task(cls, task: Task, epochs: int | None, verbose: bool = True,
                 on_fit: Callable[[str], None] | None = None) -> FineTuning:
        if epochs is None:
            recipe = task.recipe or {}
            epochs = recipe.get("fine_tune_epochs", max(2, math.ceil(recipe.get("epochs", 0) / 10))
                                if recipe else DEFAULT_USER_EPOCHS)
        return cls(task, epochs, verbose, on_fit)

    @property
    def batch_size(self) -> int:
        return (self.task.recipe or {}).get("batch_size", BATCH_SIZE)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.task.data.x_train) / self.batch_size)

    def fit(self, model, label: str, learning_rate, callbacks=()) -> None:
        """`learning_rate`: a float or a tf-keras schedule."""
        import tf_keras

        if self.on_fit:
            self.on_fit(label)
        callbacks = [*callbacks, *native_abort.callbacks(label, tf_keras)]  # none outside tests
        model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate), loss=self.task.make_loss(tf_keras))
        with Progress(self.epochs, label, enabled=None if self.verbose else False) as bar:
            model.fit(self.task.data.x_train, self.task.data.y_train, epochs=self.epochs,
                      batch_size=self.batch_size, shuffle=True, verbose=0,
                      callbacks=[*callbacks, keras_callback(bar, tf_keras)])

    def score(self, model) -> float:
        return self.task.score(model.predict(self.task.data.x_test, batch_size=256, verbose=0))
