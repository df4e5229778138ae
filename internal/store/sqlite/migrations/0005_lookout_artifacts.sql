-- Lookout for Vision model artifacts leave SQLite: each trained model is a
-- file under <data-dir>/models/ sealed with the model's KmsKeyId (the same
-- artifact store as Custom Labels), and the model row names it. Before
-- this runs, Open moves the BLOBs an older Ocellus stored to sealed files
-- (Options.MoveArtifact) in the same transaction, then fills artifact.
ALTER TABLE l4v_models ADD COLUMN artifact TEXT NOT NULL DEFAULT '';
DROP TABLE l4v_model_artifacts;
