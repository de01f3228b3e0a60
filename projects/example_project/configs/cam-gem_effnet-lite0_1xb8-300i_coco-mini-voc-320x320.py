_base_ = ['../../../configs/cam/cam_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
custom_imports = dict(imports=['projects.example_project.dummy'], allow_failed_imports=False)
# a new pooling is a config of the existing CAM head
model = dict(decode_head=dict(pool=dict(_delete_=True, type='DummyGeMPool', p=3.0)))
