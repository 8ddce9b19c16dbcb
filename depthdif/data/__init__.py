"""depthdif.data: gridded Zarr ocean store, patch index, datasets, synthetic ocean, ingest."""
