"""Scene 12's engine: an Airflow-style DAG scheduler on the course's SimPy clock.

One idea a module, as Airflow splits them: `cron` (the schedule strings), `timetables` (when runs are
due and what data each covers: Airflow's two kinds, data-interval and trigger), `dag` (tasks as a
networkx DiGraph, task-instance states, trigger rules), `store` (the metadata database, SQLite, where
all of the scheduler's state lives) and `scheduler` (the loop that creates runs and moves task
instances through their states, and the executor that runs them). Nothing here imports a scene.
"""
