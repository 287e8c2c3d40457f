"""WardWatch: streaming real-time patient monitoring."""

__version__ = "0.1.0"
