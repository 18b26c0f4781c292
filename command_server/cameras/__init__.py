"""Cameras and video (COM-1, COM-2, COM-3, COM-7, MAP-7): the device catalogue, the recordings index, tours,
saved video-wall layouts, the REST API in front of the media gateway, and the in-process gateway's lifecycle.

The command server owns *what* exists (cameras, their credentials, recording policy, tours, layouts); the
``media_gateway`` package moves the pictures. ``media.py`` is the only module that talks to it.
"""
