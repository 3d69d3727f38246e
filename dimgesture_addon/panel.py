"""The "DiM-Gesture" tab of the 3D viewport sidebar: inputs, options, Generate with progress and Cancel."""

from __future__ import annotations

import bpy

from . import bone_map, compat, operators, scene_batch, takes, warm_start, workflow_settings


class VIEW3D_PT_dimgesture(bpy.types.Panel):
    bl_label = "DiM-Gesture"
    bl_idname = "VIEW3D_PT_dimgesture"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "DiM-Gesture"

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        settings = context.scene.dimgesture
        state = context.window_manager.dimgesture_state
        warm_start.on_panel_draw(context)

        col = layout.column(heading="Speech")
        col.prop(settings, "audio_source", expand=True)
        editor = context.scene.sequence_editor
        if settings.audio_source == "STRIP":
            if editor is None or not operators.sound_strips(context.scene):
                col.label(text="No sound strip in this scene", icon="INFO")
            else:
                col.prop_search(settings, "strip_name", editor, compat.sequencer_strips_attr(editor, nested=True), icon="SOUND")
            col.prop(settings, "use_strip_start")
            if not settings.use_strip_start:
                col.prop(settings, "start_frame")
        else:
            col.prop(settings, "audio_file")
            col.prop(settings, "start_frame")

        armature = context.active_object
        col = layout.column(heading="Target")
        if armature is not None and armature.type == "ARMATURE":
            col.label(text=armature.name, icon="ARMATURE_DATA")
            box = layout.box()
            box.label(text="Bone map", icon="GROUP_BONE")
            bone_map.draw_bone_map(box, context)
        else:
            col.label(text="Select an armature", icon="ERROR")

        col = layout.column(heading="Generation")
        col.prop(settings, "seed")
        col.prop(settings, "steps")
        col.prop(settings, "sampler")
        col.prop(settings, "guidance")
        col.prop(settings, "style_file")
        col.prop(settings, "style_strength")
        col.prop(settings, "root_motion")
        col.prop(settings, "smoothing", slider=True)
        workflow_settings.draw(layout, settings)

        layout.separator()
        if state.running:
            compat.draw_progress(layout, state.progress, state.status or "Working…")
            layout.operator("dimgesture.cancel", icon="CANCEL")
        else:
            layout.operator("dimgesture.generate", icon="PLAY")
            if state.status:
                layout.label(text=state.status)
        if armature is not None and armature.type == "ARMATURE":
            takes.draw_takes(layout, armature)
        box = layout.box()
        box.label(text="Scene: strip → armature", icon="SCENE_DATA")
        scene_batch.draw_pairs(box, context)


classes = (VIEW3D_PT_dimgesture,)
