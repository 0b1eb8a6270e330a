"""Releases of built dataset versions: a Hub-loadable folder, Croissant and Zenodo metadata, push, cite.

``litraj release NAME --source S --version X --out DIR`` (:func:`~litraj_data.publish.release.make_release`)
writes a folder that plain ``datasets.load_dataset(DIR, "NAME", split="test")`` reads;
``litraj release push DIR hf://OWNER/REPO`` (:mod:`litraj_data.publish.hub`) uploads it;
``litraj cite --version X`` (:mod:`litraj_data.publish.citation`) cites it.
"""
