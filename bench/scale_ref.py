#!/usr/bin/env python3
"""Python side of the training scale series: fits one scikit-learn / XGBoost estimator on a scale CSV
(`user,session,t0,...`, written by bench/scale-data.mjs), earlier sessions to train and later ones to
test (the same split as bench/scale-fit.mjs), and prints one JSON line: fit seconds, accuracy."""
import json, sys, time, warnings

import numpy as np

warnings.filterwarnings("ignore")
MAX_TEST = 5000


def load(path):
    with open(path) as f:
        next(f)
        users, sessions, rows = [], [], []
        for line in f:
            cells = line.rstrip("\n").split(",")
            users.append(cells[0]); sessions.append(int(cells[1])); rows.append([float(v) for v in cells[2:]])
    X = np.asarray(rows, dtype=np.float64); s = np.asarray(sessions)
    uniq = sorted(set(s.tolist()))
    cut = uniq[(len(uniq) - 1) // 2]
    _, y = np.unique(np.asarray(users), return_inverse=True)
    tr = s <= cut
    te = np.flatnonzero(s > cut)
    # at most MAX_TEST later rows, every k-th: the rows bench/scale-data.mjs scores ours on
    te = te[:: -(-len(te) // MAX_TEST)]
    return X[tr], y[tr], X[te], y[te]


def make(name, n_classes, n_features, seed=0):
    if name == "SVC":
        from sklearn.svm import SVC
        return SVC()
    if name == "SVC-grid":
        # what our SVM does, the scikit-learn way: C and gamma by 3-fold CV over the same grid (our
        # gammaScale / d), refit on all rows (RBF: scikit-learn has no Laplacian kernel short of a
        # precomputed n × n matrix)
        from sklearn.model_selection import GridSearchCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC
        grid = {"svc__C": [1, 10, 100], "svc__gamma": [g / n_features for g in (0.5, 1, 2)]}
        return GridSearchCV(make_pipeline(StandardScaler(), SVC()), grid, cv=3, n_jobs=-1)
    if name == "RandomForest":
        from sklearn.ensemble import RandomForestClassifier
        return RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=seed)
    if name == "ExtraTrees":
        from sklearn.ensemble import ExtraTreesClassifier
        return ExtraTreesClassifier(n_estimators=500, n_jobs=-1, random_state=seed)
    if name == "xgboost-hist":
        from xgboost import XGBClassifier
        # the same forest mode as our XGB defaults (src/models/xgboost.ts), with XGBoost's hist method
        return XGBClassifier(tree_method="hist", n_jobs=-1, n_estimators=1, num_parallel_tree=80, max_depth=12,
                             learning_rate=1, subsample=1, colsample_bylevel=0.08, min_child_weight=0.05, random_state=seed)
    raise SystemExit(f"unknown estimator {name}")


def main():
    # an optional third argument: the estimator's random_state (default 0), to see its seed noise
    path, name = sys.argv[1], sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    Xtr, ytr, Xte, yte = load(path)
    # labels present only in the test sessions cannot be predicted by anyone; keep classes 0..k-1 dense for xgboost
    classes, ytr = np.unique(ytr, return_inverse=True)
    m = make(name, len(classes), Xtr.shape[1], seed)
    t = time.perf_counter(); m.fit(Xtr, ytr); fit = time.perf_counter() - t
    pred = classes[m.predict(Xte)]
    print(json.dumps({"estimator": name, "fit_s": fit, "accuracy": float((pred == yte).mean()), "train": len(ytr), "test": len(yte)}))


main()
