"""The main job: a guided tour of PowerTokens, offline by default.

``python demo.py`` runs it (``--help`` for the options). With ``POWERTOKENS_API_KEY``
unset it starts the built-in emulator on loopback and says so; with the key set it
talks to the real service. The tour itself lives in ``tour/``.
"""

from tour import run

if __name__ == "__main__":
    run()
