"""Training side of the sentiment service: data, preprocessing, models, export and publishing.

Importing this package is cheap and torch-free: serving imports `model_build.preprocess` and
`model_build.bundle` from it, and the heavy modules (`train`, `export`, `models`) import torch
themselves.
"""
