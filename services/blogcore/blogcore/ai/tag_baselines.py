"""The classical baseline the tag classifier must be judged against: TF-IDF + one-vs-rest logistic regression.

scikit-learn is a development dependency (requirements/dev.txt): only training imports this module, never a service.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

REGULARISATION_GRID = (1.0, 10.0, 100.0)


def tfidf_logistic_regression(
    train_texts: Sequence[str],
    train_targets: torch.Tensor,
    validation_texts: Sequence[str],
    score_on_validation: Callable[[torch.Tensor], float],
) -> tuple[Callable[[Sequence[str]], torch.Tensor], dict]:
    """Fit TF-IDF (uni- and bigrams) + logistic regression per tag, picking C by the validation score of its
    probabilities; returns a texts -> probabilities function and what was chosen."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    vectoriser = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    features = vectoriser.fit_transform(train_texts)
    validation_features = vectoriser.transform(validation_texts)
    targets = train_targets.int().numpy()
    best: tuple[float, float, object] | None = None
    for regularisation in REGULARISATION_GRID:
        model = OneVsRestClassifier(LogisticRegression(C=regularisation, solver="liblinear"))
        model.fit(features, targets)
        score = score_on_validation(torch.from_numpy(model.predict_proba(validation_features)).float())
        if best is None or score > best[0]:
            best = (score, regularisation, model)
    _, regularisation, model = best

    def probabilities(texts: Sequence[str]) -> torch.Tensor:
        return torch.from_numpy(model.predict_proba(vectoriser.transform(texts))).float()

    details = {
        "features": f"TF-IDF uni- and bigrams, min_df 2, sublinear tf ({len(vectoriser.vocabulary_)} terms)",
        "model": f"one-vs-rest logistic regression (liblinear), C={regularisation} chosen on validation from "
        f"{list(REGULARISATION_GRID)}",
    }
    return probabilities, details
