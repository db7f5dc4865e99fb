"""A Prefect flow that does nothing: what any flow run costs as a new process on this machine
(Python's start, importing Prefect, creating and finishing the flow run, exiting). The pipeline
bench runs it as the floor under the rerun figures."""

from prefect import flow


@flow(name="empty")
def empty() -> None:
    """Nothing at all."""


if __name__ == "__main__":
    empty()
