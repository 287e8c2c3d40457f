"""Alarms: the one lifecycle every alarm source goes through (:mod:`models.alarms.lifecycle`)."""
