"""``python -m eventsourcing.cli``: the same as the ``eventsourcing`` console script."""

from eventsourcing.cli import main

if __name__ == "__main__":
    main()
