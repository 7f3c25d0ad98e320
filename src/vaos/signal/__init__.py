"""Signal classification: noise filter, classifiers, intent hash.

``classify(text)`` is the deterministic classifier (no I/O, microseconds);
``SignalService`` adds the LLM classifier and the ``signal_classified`` event.
"""

from vaos.signal.classifier import DeterministicClassifier, classify, get_classifier
from vaos.signal.intent_hash import envelope_hash, intent_envelope, intent_hash, verify_intent_hash
from vaos.signal.models import NoiseVerdict, Signal, tier_for_weight
from vaos.signal.validation import InvalidMessageError, validate_message

__all__ = [
    "DeterministicClassifier",
    "InvalidMessageError",
    "NoiseVerdict",
    "Signal",
    "classify",
    "envelope_hash",
    "get_classifier",
    "intent_envelope",
    "intent_hash",
    "tier_for_weight",
    "validate_message",
    "verify_intent_hash",
]
