"""Model code: training, evaluation, inference; trained artifacts and model cards."""
