"""Devices the harness drives: the local host (lab, self-tests) and Android phones over adb."""
