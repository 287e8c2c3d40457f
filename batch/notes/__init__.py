"""Clinical-note batch jobs: de-identification, sections, rule-based NER with NegEx/ConText
context, and measurements with units. Pure processing; :mod:`batch.notes.handler` is the
batch-worker glue."""
