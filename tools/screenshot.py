"""Screenshot of the main window on a project, for the README and for looking at changes.

Run under a display (e.g. ``xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tools/screenshot.py
sample_data/qingdao_shinan.qdt docs/main_window.png``). Options: ``--underground``, ``--pick X Y``
(click at view pixel X, Y from the top-left, to fill the inspector).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project")
    parser.add_argument("out")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--underground", action="store_true")
    parser.add_argument("--pick", type=int, nargs=2, metavar=("X", "Y"))
    args = parser.parse_args()

    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QGuiApplication

    from qdt.ui.app import create_application
    from qdt.ui.mainwindow import MainWindow

    app = create_application()
    window = MainWindow()
    window.resize(args.width, args.height)
    window.move(0, 0)
    window.show()

    def shoot() -> None:
        window.view.render_image()
        app.processEvents()
        QGuiApplication.primaryScreen().grabWindow(0, 0, 0, args.width, args.height).save(args.out)
        print(f"wrote {args.out}")
        app.quit()

    def loaded(_project: object) -> None:
        if args.underground:
            window.set_underground(True)
        if args.pick:
            x, y = args.pick
            window.view.pick_at(x, window.view.height() - 1 - y)
        QTimer.singleShot(1500, shoot)

    window.project_loaded.connect(loaded)
    window.project_failed.connect(lambda msg: (print(msg, file=sys.stderr), app.exit(2)))
    window.open_project(args.project)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
