"""The sub-commands of `fdi-drift`, one module each: its parser (`add`) and what it does (`run`).

Every command's --help says what it does, explains its options, lists its exit statuses and
gives an example; common.py holds what they share.
"""
