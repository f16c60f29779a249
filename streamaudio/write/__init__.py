"""Write: shard writer, workers, executors, the output folder and its manifest, the build."""
