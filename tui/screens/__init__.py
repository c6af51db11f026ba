"""Screens: the dashboard, the rotation list, help, and the modals (confirm, new key)."""
