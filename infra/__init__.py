"""The CDK app (`infra.app`), its deployment knobs (`infra.settings`) and the local emulation of
the same topology (`infra.local`). It imports the service's names and limits from
`functions.contract`; nothing under `functions/` imports from here.
"""
