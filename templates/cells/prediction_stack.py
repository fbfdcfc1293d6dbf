# imagesumming {{version}} (patch prediction-stack): each frame's own clipped prediction, one page per frame
if save_stack:
  if b == 0:
    import tifffile
    stack_path = os.path.join(savePath, 'PredictedStack_' + os.path.splitext(filename)[0] + '.tif')
    stack_writer = tifffile.TiffWriter(stack_path + '.part', bigtiff=True)
  for frame_prediction in predicted_density.sum(axis = -1):
    stack_writer.write(frame_prediction.astype(np.float32), contiguous=True, photometric='minisblack', resolution=(1e7/pixel_size_hr, 1e7/pixel_size_hr), resolutionunit='CENTIMETER')
  if b == n_batches - 1:
    stack_writer.close()
    os.replace(stack_path + '.part', stack_path)
    print('Prediction of every frame saved to ' + stack_path)
