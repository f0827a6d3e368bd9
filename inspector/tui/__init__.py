"""The terminal UI: a Textual app over the store API. Screens in `screens/`, one widget per
module in `widgets/`; pure logic (rows, turns, export, references) has no Textual import.

Importing this package does not import Textual: `inspector --help` stays fast.
"""
