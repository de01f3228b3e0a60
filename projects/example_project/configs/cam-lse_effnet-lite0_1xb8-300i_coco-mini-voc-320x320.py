_base_ = ['../../../configs/cam/cam_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
custom_imports = dict(imports=['projects.example_project.dummy'], allow_failed_imports=False)
model = dict(decode_head=dict(type='DummyLSEPoolCAMHead', r=5.0))
