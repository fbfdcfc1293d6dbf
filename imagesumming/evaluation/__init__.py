"""Evaluation of Deep-STORM predictions against ground truth: matching, metrics, views."""
